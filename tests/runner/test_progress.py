"""What a run shows while it works: the live panel's figures, plain lines elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from wanform.runner.engine.states import ImageOut, JobState, RunResult
from wanform.runner.reports.progress import Lines, LiveDisplay, Panel, choose


def test_the_panel_counts_jobs_by_phase():
    """Queued, in flight, downloading, done, failed, images, 429s and elapsed time, in one table."""
    jobs = [
        JobState("r.yaml", "a", "m", state="queued"),
        JobState("r.yaml", "b", "m", state="running"),
        JobState("r.yaml", "c", "m", state="succeeded", images=[ImageOut(1, "c-1.png", "x", 3)]),
        JobState("r.yaml", "d", "m", state="failed"),
    ]
    console = Console(file=io.StringIO(), width=100)
    console.print(Panel(RunResult("emulator", jobs), lambda: 7))
    rows = [line.split() for line in console.file.getvalue().splitlines()]
    assert rows[0] == [
        "queued",
        "in",
        "flight",
        "downloading",
        "done",
        "failed",
        "images",
        "429s",
        "elapsed",
    ]
    assert rows[1] == ["1", "1", "0", "1", "1", "1", "7", "0s"]


def test_plain_lines_when_not_on_a_terminal_and_none_for_json():
    """Pipes and CI get one line per finished job; `-o json` keeps stdout for the report alone."""
    out, err = io.StringIO(), io.StringIO()
    lines = choose(out, err, "text")
    assert type(lines) is Lines
    lines.job_ended(
        JobState("r.yaml", "a", "m", state="succeeded", images=[ImageOut(1, "a-1.png", "x", 3)])
    )
    assert out.getvalue() == "succeeded r.yaml: a: 1 image\n"
    quiet = choose(out, err, "json")
    quiet.job_ended(JobState("r.yaml", "b", "m", state="succeeded"))
    assert out.getvalue() == "succeeded r.yaml: a: 1 image\n"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_live_panel():
    """On a terminal the panel is live on stderr and job lines scroll above it."""
    display = choose(Terminal(), Terminal(), "text")
    assert type(display) is LiveDisplay
