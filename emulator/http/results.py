"""Result files behind signed-looking URLs that expire like DashScope's OSS links (24 h, virtual).

`/__results/<token>.png?Expires=<epoch>&OSSAccessKeyId=...&Signature=...`: a tampered
signature gets 403, an expired link 403, an unknown file 404, with OSS-style XML bodies.
Images are rendered on first download, in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import secrets
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass

from aiohttp import web
from PIL import Image, UnidentifiedImageError
from yarl import URL

from emulator.http.errors import OssError, no_such_key
from emulator.images.brief import Brief
from emulator.images.draw import render_png
from emulator.state.clock import VirtualClock
from emulator.state.faults import Context, enact_after, enact_before
from emulator.state.instance import EMULATOR
from emulator.state.requestlog import note
from emulator.state.tasks import SUCCEEDED, Task
from spec.models import RESULT_TTL_SECONDS

PREFIX = "/__results/"
ACCESS_KEY_ID = "LTAI5tWanformEmulator"
MAX_DECODE_PIXELS = min(
    Image.MAX_IMAGE_PIXELS or 8000 * 8000, 8000 * 8000
)  # the largest documented input


@dataclass(frozen=True)
class ResultFile:
    """Image `index` of `task`."""

    token: str
    task: Task
    index: int


class ResultStore:
    """Which token is which image, how its URL is signed, and the renders in progress."""

    def __init__(self, clock: VirtualClock, executor: Executor) -> None:
        self._clock = clock
        self._executor = executor
        self._secret = secrets.token_bytes(16)
        self._files: dict[str, ResultFile] = {}
        self._rendering: dict[str, asyncio.Future[bytes]] = {}

    def register(self, task: Task) -> None:
        """Name the task's images now; they can be fetched once it has SUCCEEDED."""
        task.tokens = tuple(secrets.token_hex(16) for _ in range(task.brief.count))
        for index, token in enumerate(task.tokens):
            self._files[token] = ResultFile(token, task, index)

    def forget(self, task: Task) -> None:
        for token in task.tokens:
            self._files.pop(token, None)

    def reset(self) -> None:
        self._files.clear()

    def url(self, base: str, task: Task, index: int) -> str:
        """The signed URL of one image of a finished task; it expires 24 h after the task ended."""
        token = task.tokens[index]
        expires = int(task.end + RESULT_TTL_SECONDS)  # type: ignore[operator]
        # Every part is URL-safe (hex, digits, URL-safe base64): no quoting needed on this hot path.
        signature = self._sign(token, expires)
        return f"{base}{PREFIX}{token}.png?Expires={expires}&OSSAccessKeyId={ACCESS_KEY_ID}&Signature={signature}"

    def lookup(self, name: str, query: Mapping[str, str]) -> ResultFile:
        """The file a download asks for, if its link is intact, unexpired and the image exists."""
        token = name.removesuffix(".png")
        file = self._files.get(token)
        if file is None or not name.endswith(".png"):
            raise no_such_key()
        expires = query.get("Expires", "")
        if not expires.isdigit() or not hmac.compare_digest(
            query.get("Signature", ""), self._sign(token, int(expires))
        ):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if self._clock.now() >= int(expires):
            raise OssError(403, "AccessDenied", "Request has expired.")
        task = file.task
        if (
            task.status(self._clock.now()) != SUCCEEDED
            or file.index not in task.succeeded_indexes()
        ):
            raise no_such_key()
        return file

    def lookup_url(self, url: str) -> ResultFile:
        """`lookup` for a full result URL (an input that points back at this emulator)."""
        parsed = URL(url)
        return self.lookup(parsed.path.removeprefix(PREFIX), parsed.query)

    async def png(self, file: ResultFile) -> bytes:
        """The PNG bytes, rendered once even when several downloads ask at the same moment."""
        future = self._rendering.get(file.token)
        if future is None:
            loop = asyncio.get_running_loop()
            future = asyncio.ensure_future(
                loop.run_in_executor(self._executor, render, file.task.brief, file.index)
            )
            self._rendering[file.token] = future
            future.add_done_callback(lambda _: self._rendering.pop(file.token, None))
        return await asyncio.shield(future)

    def _sign(self, token: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{token}\n{expires}".encode(), hashlib.sha1).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _base_image(brief: Brief) -> tuple[Image.Image | None, tuple[tuple[float, ...], ...]]:
    """The last input, decoded near the output size, with its boxes in the decoded image's pixels."""
    if brief.base is None:
        return None, ()
    try:
        image = Image.open(io.BytesIO(brief.base))
        original = image.size
        if original[0] * original[1] > MAX_DECODE_PIXELS:
            return None, ()
        image.draft(
            "RGB", (brief.width, brief.height)
        )  # JPEG decodes at 1/2, 1/4, 1/8 scale: much faster
        image.load()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None, ()
    sx, sy = image.width / original[0], image.height / original[1]
    return image, tuple(
        (b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for b in brief.bboxes if len(b) == 4
    )


def render(brief: Brief, index: int) -> bytes:
    """Draw image `index` of `brief` (runs in a worker thread)."""
    base, boxes = _base_image(brief)
    return render_png(
        width=brief.width,
        height=brief.height,
        seed=brief.seed,
        prompt=brief.prompt,
        base_image=base,
        bboxes=boxes,
        palette=brief.palette,
        index=index,
    )


async def download(request: web.Request) -> web.StreamResponse:
    """GET a result file; fault rules for the `result` endpoint (and the task's own) may delay or cut it."""
    emulator = request.app[EMULATOR]
    file = emulator.results.lookup(request.match_info["name"], request.query)
    task = file.task
    note(request, account=task.account.key_id, model=task.brief.model, task_id=task.task_id)
    decision = emulator.faults.decide(
        Context("result", task.account, task.brief.model, task.brief.prompt), task.rules
    )
    note(request, faults=decision.fired)
    await enact_before(decision, emulator.clock)
    png = await emulator.results.png(file)
    if decision.action("cut"):
        return await _cut_off(request, png)
    enact_after(decision)
    return web.Response(body=png, content_type="image/png")


async def _cut_off(request: web.Request, png: bytes) -> web.StreamResponse:
    """Promise the whole file, send half of it, then close the connection."""
    response = web.StreamResponse(headers={"Content-Type": "image/png"})
    response.content_length = len(png)
    await response.prepare(request)
    await response.write(png[: len(png) // 2])
    if request.transport is not None:
        request.transport.close()
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get(PREFIX + "{name}", download)
