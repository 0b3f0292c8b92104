"""When to ask about a task: first near the model's usual duration, learned from the run's own
tasks, then at growing intervals. Few queries per task, and a finished task is seen soon after it
ends."""

from __future__ import annotations

import statistics
from collections import deque

from wanform.spec.models import POLL_INTERVAL_SECONDS

FIRST_POLL_MAX = (
    2.0  # seconds: before any task of a model has ended, probe early (the emulator may be fast)
)
MIN_GAP = 0.05
MAX_GAP = POLL_INTERVAL_SECONDS  # never wait longer than the docs advise between queries
SAMPLES = 16
SHRINK = (
    0.97  # a task already done at its first poll may have ended earlier: nudge the estimate down
)


class Durations:
    """Recent task durations of one model, as polling saw them.

    `typical` is the documented duration; when `exact` (an emulator whose clock speed is known) the
    first tasks are asked about at that moment, otherwise (DashScope's durations vary) early, at
    most 2 s in.
    """

    def __init__(self, typical: float, exact: bool = False) -> None:
        self.typical = typical
        self.exact = exact
        self.samples: deque[float] = deque(maxlen=SAMPLES)

    def first_poll(self) -> float:
        """Seconds after submission to ask first."""
        if self.samples:
            return statistics.median(self.samples)
        return self.typical if self.exact else min(self.typical, FIRST_POLL_MAX)

    def next_poll(self, elapsed: float, misses: int) -> float:
        """Seconds to wait after the `misses`-th query
        that found the task still running at `elapsed`."""
        known = self.samples or self.exact
        fraction = min(0.5, 0.1 * 2 ** (misses - 1)) if known else 1.0
        return min(MAX_GAP, max(MIN_GAP, elapsed * fraction))

    def learn(self, elapsed: float, misses: int, server_seconds: float | None) -> None:
        """Record a task seen finished `elapsed` seconds after submission, after `misses` queries
        that were too early.

        The server's own duration is used when it fits inside what the client saw (an emulator's
        virtual clock may not); otherwise the client's view, nudged down when the first query
        already found the task done.
        """
        if server_seconds is not None and 0 < server_seconds <= elapsed:
            self.samples.append(server_seconds)
        else:
            self.samples.append(elapsed * SHRINK if misses == 0 else elapsed)
