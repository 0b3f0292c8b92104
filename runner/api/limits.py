"""The service's limits as the runner keeps to them: per-model submission rate and tasks in
flight, and the account-wide task-query rate. Defaults come from the model table; flags and
WANFORM_* variables override them.

DashScope counts with a token bucket holding one second of requests. The runner's limiter is a
smaller bucket (one request less) that refills slightly slower, so a request that arrives a little
early after travelling the network still finds a token waiting: with known limits, a run sees no
429.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from wanform.spec.models import TASK_QUERY_RPS, UPLOAD_POLICY_RPS, ModelSpec

RATE_MARGIN = 0.97  # the runner refills at 97% of the documented rate
ENV = {
    "submit_rps": "WANFORM_SUBMIT_RPS",
    "max_in_flight": "WANFORM_MAX_IN_FLIGHT",
    "query_rps": "WANFORM_QUERY_RPS",
}


@dataclass(frozen=True)
class Limits:
    """The numbers the runner keeps to: per model, and per account for task queries."""

    submit_rps: Mapping[str, float]
    max_in_flight: Mapping[str, int]
    query_rps: float


def parse_override(text: str, models: Mapping[str, ModelSpec], what: str) -> dict[str, float]:
    """`N` (every model) or `model=N,model=N`; ValueError naming the bad part."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.rpartition("=")
        names = [name.strip()] if sep else list(models)
        if sep and name.strip() not in models:
            raise ValueError(f"{what}: unknown model {name.strip()!r}; known: {', '.join(models)}")
        out.update(dict.fromkeys(names, positive(value, what)))
    return out


def positive(text: str, what: str) -> float:
    """A positive finite number, or ValueError naming the option."""
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{what}: {text.strip()} must be a positive number")
    return number


def resolve_limits(
    models: Mapping[str, ModelSpec], env: Mapping[str, str], **flags: str | None
) -> Limits:
    """The spec's defaults, then WANFORM_* variables, then flags (`submit_rps`, `max_in_flight`,
    `query_rps`)."""
    given = {key: flags.get(key) or env.get(var) for key, var in ENV.items()}
    submit = {name: spec.submit_rps for name, spec in models.items()}
    in_flight: dict[str, float] = {name: spec.max_in_flight for name, spec in models.items()}
    if given["submit_rps"]:
        submit.update(parse_override(given["submit_rps"], models, "--submit-rps"))
    if given["max_in_flight"]:
        in_flight.update(parse_override(given["max_in_flight"], models, "--max-in-flight"))
    query = positive(given["query_rps"], "--query-rps") if given["query_rps"] else TASK_QUERY_RPS
    return Limits(submit, {k: max(1, int(v)) for k, v in in_flight.items()}, query)


def polite_limiter(rate: float) -> AsyncLimiter:
    """A limiter that stays under a service bucket of `rate` tokens, refilled at `rate` a second."""
    burst = max(1, math.floor(rate) - 1)
    return AsyncLimiter(burst, burst / (rate * RATE_MARGIN))


class Gates:
    """The limiters and semaphores of one run, shared by all its jobs."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._submit = {m: polite_limiter(r) for m, r in limits.submit_rps.items()}
        self._slots = {m: asyncio.Semaphore(n) for m, n in limits.max_in_flight.items()}
        self._policy = {m: polite_limiter(UPLOAD_POLICY_RPS) for m in limits.submit_rps}
        self.query = polite_limiter(limits.query_rps)

    def submit(self, model: str) -> AsyncLimiter:
        return self._submit[model]

    def policy(self, model: str) -> AsyncLimiter:
        return self._policy[model]

    def slot(self, model: str) -> asyncio.Semaphore:
        """Held from before a task is submitted until it is seen finished."""
        return self._slots[model]


class SubmitGate:
    """Submissions of one model run side by side; finding a task whose creation answer was lost
    runs alone.

    While it runs, every other submission of the model has either answered (and its task id is
    journaled) or not started, so any unjournaled task the service lists is the lost one.
    """

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self._active = 0
        self._waiting = 0  # exclusive holders waiting: new shared holders let them go first
        self._exclusive = False

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._cond:
            await self._cond.wait_for(lambda: not self._exclusive and not self._waiting)
            self._active += 1
        try:
            yield
        finally:
            async with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._cond:
            self._waiting += 1
            try:
                await self._cond.wait_for(lambda: not self._exclusive and self._active == 0)
            finally:
                self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            async with self._cond:
                self._exclusive = False
                self._cond.notify_all()
