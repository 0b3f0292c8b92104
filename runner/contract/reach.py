"""Where the suite runs and what that costs: the embedded emulator, a URL (an emulator if it
answers the emulator's admin API) or DashScope, and the list price of the images it may make."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from wanform.runner.api.targets import Target
from wanform.runner.contract.play import Where
from wanform.runner.contract.suite import Case
from wanform.spec.emulator.wire import CLOCK
from wanform.spec.models import MODELS, ModelSpec

EMBEDDED_SPEED = 50.0  # the embedded emulator's clock: a wanx2.1 task takes a fifth of a second


@dataclass(frozen=True)
class Bill:
    """Billable images and their list price (CNY, Beijing): as expected, and at most."""

    images: int
    cost: float
    most_images: int
    most_cost: float

    def describe(self) -> str:
        return (
            f"{self.images} billable images, {self.cost:.2f} CNY at list price "
            f"(at most {self.most_images} images, {self.most_cost:.2f} CNY, if the service "
            "accepts every request a guess says it refuses)"
        )


def bill(cases: Iterable[Case]) -> Bill:
    """What the cases may bill on the real service: as expected, and at most (each submission
    at the most images it can make, whatever the case expects)."""
    chosen = list(cases)
    most = [(model, images) for c in chosen for model, images in c.at_most()]
    return Bill(
        sum(c.images for c in chosen),
        round(sum(c.images * c.price for c in chosen), 6),
        sum(images for _, images in most),
        round(sum(images * MODELS[model].price_cny for model, images in most), 6),
    )


async def emulator_speed(http: aiohttp.ClientSession, base_url: str) -> float | None:
    """The clock speed of the emulator at `base_url`, or None when its admin API does not answer
    (DashScope, or anything else)."""
    parts = urlsplit(base_url)
    try:
        async with http.get(
            f"{parts.scheme}://{parts.netloc}{CLOCK}",
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=15),
        ) as resp:
            body = await resp.json(content_type=None) if resp.status == 200 else None
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return None
    speed = body.get("speed") if isinstance(body, dict) else None
    return float(speed) if isinstance(speed, int | float) and not isinstance(speed, bool) else None


@contextlib.asynccontextmanager
async def reach(
    target: Target, http: aiohttp.ClientSession, models: Mapping[str, ModelSpec]
) -> AsyncIterator[Where]:
    """The target ready to call; the embedded emulator runs (with `models`) for the block."""
    if not target.embedded:
        speed = await emulator_speed(http, target.base_url)
        yield Where(target.base_url, target.api_key, speed is not None, speed or 1.0)
        return
    from wanform.emulator import EmulatorConfig, start

    runner, base_url = await start(
        EmulatorConfig(host="127.0.0.1", port=0, speed=EMBEDDED_SPEED, models=models)
    )
    try:
        yield Where(base_url, target.api_key, True, EMBEDDED_SPEED)
    finally:
        await runner.cleanup()
