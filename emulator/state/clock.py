"""The virtual clock: real monotonic time times `speed`, plus what the admin API advanced it by."""

from __future__ import annotations

import asyncio
import functools
import math
import time
from datetime import datetime

from wanform.spec.models import SERVICE_TIMEZONE, TASK_LIST_TIME_FORMAT, TASK_TIME_FORMAT

# One jump covers any TTL or quota window; far beyond, times stop fitting a datetime (year 9999).
MAX_ADVANCE_SECONDS = 10 * 365 * 86400
LATEST = datetime(9000, 1, 1, tzinfo=SERVICE_TIMEZONE).timestamp()


class VirtualClock:
    """Epoch seconds on a clock `speed` times as fast as real time, that can jump forward; `skew`
    seconds ahead of the machine's clock at its start (behind when negative), as a service's clock
    may be ahead of or behind its clients'."""

    def __init__(self, speed: float, skew: float = 0.0) -> None:
        self.speed = speed
        self.skew = skew
        self._tick: asyncio.Future[None] | None = None
        self.rewind()

    def rewind(self) -> None:
        """Start again from the real present (plus the skew), as a new clock would."""
        self._epoch = time.time() + self.skew
        self._mono = time.monotonic()
        self._offset = 0.0
        self.wake()

    def now(self) -> float:
        return self._epoch + (time.monotonic() - self._mono) * self.speed + self._offset

    def advance(self, seconds: float) -> float:
        """Jump forward and wake every sleeper to re-check its deadline; returns the new time.

        ValueError for a jump back, of more than ten years, or past the year 9000."""
        if not 0 <= seconds <= MAX_ADVANCE_SECONDS:
            raise ValueError(f"seconds must be 0 to {MAX_ADVANCE_SECONDS} (ten years)")
        if self.now() + seconds > LATEST:
            raise ValueError("the clock cannot move past the year 9000")
        self._offset += seconds
        self.wake()
        return self.now()

    def wake(self) -> None:
        """Wake every sleeper to re-check its deadline (after a deadline moved)."""
        tick = self._tick
        self._tick = None
        if tick is not None and not tick.done():
            tick.set_result(None)

    async def sleep_until(self, deadline: float) -> None:
        """Wait until the virtual time reaches `deadline` (on a frozen clock: until advanced)."""
        while (remaining := deadline - self.now()) > 0:
            if remaining == math.inf:  # no deadline yet (a held task): a wake, then re-read
                await self._next_tick()
                return
            timeout = remaining / self.speed if self.speed > 0 else None
            await asyncio.wait([self._next_tick()], timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + seconds)

    def _next_tick(self) -> asyncio.Future[None]:
        if self._tick is None or self._tick.get_loop() is not asyncio.get_running_loop():
            self._tick = asyncio.get_running_loop().create_future()
        return self._tick


@functools.lru_cache(maxsize=4096)  # a task's times are formatted on every poll
def task_time(epoch: float) -> str:
    """`2026-03-26 17:16:01.663`: the documented task time format, in UTC+8."""
    # milliseconds, where strftime's %f would give microseconds
    return datetime.fromtimestamp(epoch, SERVICE_TIMEZONE).strftime(TASK_TIME_FORMAT)[:-3]


def epoch_ms(epoch: float) -> int:
    """Epoch milliseconds, as the task list reports times."""
    return int(epoch * 1000)


def parse_list_time(text: str) -> float:
    """`YYYYMMDDhhmmss` (UTC+8), the task list's filter format, to epoch seconds; or ValueError."""
    if len(text) != 14 or not text.isdigit():
        raise ValueError(text)
    return (
        datetime.strptime(text, TASK_LIST_TIME_FORMAT).replace(tzinfo=SERVICE_TIMEZONE).timestamp()
    )
