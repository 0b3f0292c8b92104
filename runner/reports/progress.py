"""How a run shows itself while it works: a live panel on a terminal (rich), plain lines or
events elsewhere (CI, pipes; `wanform.runner.reports.events`).

Job lines and the final report go to stdout; the live panel and notices go to stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from wanform.runner.engine.states import (
    DOWNLOADING,
    ENDED,
    FAILED,
    IN_FLIGHT,
    PARTIAL,
    PREPARING,
    QUEUED,
    SKIPPED,
    SUCCEEDED,
    UNRESOLVED,
    JobState,
    RunResult,
)
from wanform.runner.reports.events import Events, Lines
from wanform.runner.reports.run import job_line

# The time left is estimated from the jobs that ended in this many seconds before now: long enough
# to smooth the bursts in which jobs end together, short enough to follow a change of pace.
PACE_SECONDS = 120


class Panel:
    """The figures of a run, recomputed at each refresh: a bar of the jobs ended, with the percent
    done, the time left as rich estimates it from the pace of the last minutes and the images
    made so far; under it a small table of the jobs by phase."""

    def __init__(
        self,
        result: RunResult,
        throttled: Callable[[], int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.result, self.throttled, self.clock = result, throttled, clock
        self.started = clock()
        self.bar = Progress(
            TextColumn("{task.completed}/{task.total} jobs"),
            BarColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
            TextColumn("left, {task.fields[images]} images made"),
            get_time=clock,
            speed_estimate_period=PACE_SECONDS,
        )
        self.task = self.bar.add_task("run", total=len(result.jobs), images=0)

    def __rich__(self) -> Group:
        r = self.result
        images = sum(len(j.images) for j in r.jobs)
        self.bar.update(self.task, completed=r.count(*ENDED), images=images)
        table = Table.grid(padding=(0, 2))
        for _ in range(8):
            table.add_column(justify="right")
        table.add_row(
            "queued", "in flight", "downloading", "done", "failed", "images", "429s", "elapsed"
        )
        table.add_row(
            str(r.count(QUEUED, PREPARING)),
            str(r.count(*IN_FLIGHT)),
            str(r.count(DOWNLOADING)),
            str(r.count(SUCCEEDED, SKIPPED)),
            str(r.count(FAILED, PARTIAL, UNRESOLVED)),
            str(images),
            str(self.throttled()),
            f"{self.clock() - self.started:.0f}s",
        )
        return Group(self.bar.get_renderable(), table)


class LiveDisplay(Lines):
    """A terminal: the panel stays at the bottom of stderr, job lines scroll above it."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        super().__init__(out, err)
        self.console = Console(file=err)
        self.live: Live | None = None

    def start(self, result: RunResult, throttled: Callable[[], int]) -> None:
        self.console.print(
            f"running {len(result.jobs)} jobs against {result.target}", highlight=False
        )
        self.live = Live(
            Panel(result, throttled), console=self.console, refresh_per_second=4, transient=True
        )
        self.live.start()

    def job_ended(self, job: JobState) -> None:
        self.console.print(job_line(job), highlight=False, markup=False)

    def notice(self, text: str) -> None:
        self.console.print(f"notice: {text}", highlight=False, markup=False)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()


def choose(out: TextIO, err: TextIO, fmt: str) -> Lines:
    """The live panel on a terminal in text mode; plain lines otherwise; no job lines with
    `-o json`."""
    if fmt == "ndjson":
        return Events(out, err)
    if fmt == "json":
        return Lines(out, err, job_lines=False)
    if err.isatty() and out.isatty():
        return LiveDisplay(out, err)
    return Lines(out, err)
