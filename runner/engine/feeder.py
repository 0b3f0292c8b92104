"""Starting a run's jobs a few at a time, each once the jobs it takes outputs from have ended.

A run of 20,000 jobs must not hold 20,000 coroutines, each with its request prepared, while a model
takes a few hundred tasks at once: a model's jobs start at most `width` at a time (the engine gives
twice its tasks in flight, so the next jobs are prepared while others run or download). A job whose
upstream jobs are in the run starts only once they have all ended: with a bounded width, a started
job waiting for one that was never started could hold every place and never end.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any


class Feeder:
    """Runs `start(i)` for jobs 0..n-1: in order among those ready, at most `widths[lane]` jobs of
    a lane at once, a job only after every job in `upstream[i]` has ended."""

    def __init__(
        self,
        lanes: Sequence[str],
        upstream: Sequence[Iterable[int]],
        widths: Mapping[str, int],
        start: Callable[[int], Coroutine[Any, Any, None]],
    ) -> None:
        self._lanes, self._widths, self._start = lanes, widths, start
        self._waiting = [0] * len(lanes)  # upstream jobs not ended yet, per job
        self._downstream: dict[int, list[int]] = defaultdict(list)
        for index, ups in enumerate(upstream):
            for up in set(ups) - {index}:
                self._waiting[index] += 1
                self._downstream[up].append(index)
        self._ready: dict[str, list[int]] = defaultdict(list)  # heaps of job indices, per lane
        for index, count in enumerate(self._waiting):
            if not count:
                self._ready[lanes[index]].append(index)
        self._running: Counter[str] = Counter()
        self._left = len(lanes)
        self._closed = False
        self._all_ended = asyncio.Event()
        self._launched = bytearray(len(lanes))
        self.tasks: dict[int, asyncio.Task[None]] = {}  # the jobs running now
        self.bugs: dict[int, BaseException] = {}  # exceptions no job handled, by job

    async def run(self) -> None:
        """Start jobs until every one has ended."""
        self._fill()
        await self._all_ended.wait()

    def close(self) -> None:
        """Start no more jobs (the run is stopping)."""
        self._closed = True

    def _fill(self) -> None:
        if self._closed:
            return
        for lane, ready in self._ready.items():
            while ready and self._running[lane] < self._widths[lane]:
                self._launch(heapq.heappop(ready))
        if self._left and not self.tasks:
            self._release_cycles()
        if not self._left:
            self._all_ended.set()

    def _launch(self, index: int) -> None:
        self._running[self._lanes[index]] += 1
        self._launched[index] = 1
        task = asyncio.create_task(self._start(index))
        self.tasks[index] = task
        task.add_done_callback(lambda done: self._ended(index, done))

    def _ended(self, index: int, task: asyncio.Task[None]) -> None:
        del self.tasks[index]
        if not task.cancelled() and task.exception() is not None:
            self.bugs[index] = task.exception()  # type: ignore[assignment]
        self._running[self._lanes[index]] -= 1
        self._left -= 1
        for down in self._downstream.pop(index, ()):
            self._waiting[down] -= 1
            if not self._waiting[down]:
                heapq.heappush(self._ready[self._lanes[down]], down)
        self._fill()

    def _release_cycles(self) -> None:
        """Nothing runs and nothing is ready, yet jobs are left: they wait on one another (a cycle
        validation would have refused). They start as before there was a feeder, and wait."""
        for index in range(len(self._lanes)):
            if not self._launched[index]:
                self._launch(index)
