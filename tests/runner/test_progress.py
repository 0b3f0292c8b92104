"""What a run shows while it works: the live panel's figures, plain lines elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from wanform.runner.engine.states import ImageOut, JobState, RunResult
from wanform.runner.reports.events import Lines
from wanform.runner.reports.progress import LiveDisplay, Panel, choose


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
    rows = [line.split() for line in console.file.getvalue().splitlines()[1:]]
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


def test_the_panel_shows_percent_done_time_left_and_images_made():
    """A bar above the table: jobs ended out of all, the percent, the time left at the pace of
    those that ended, and the images made so far."""
    now = [0.0]
    jobs = [JobState("r.yaml", name, "m", state="queued") for name in "abcd"]
    panel = Panel(RunResult("emulator", jobs), lambda: 0, clock=lambda: now[0])
    console = Console(file=io.StringIO(), width=100)
    for ended, at in ((jobs[0], 10.0), (jobs[1], 20.0)):
        now[0] = at
        ended.state = "succeeded"
        ended.images = [ImageOut(1, f"{ended.job}-1.png", "x", 3)]
        console.print(panel)
    first, _, _, second = console.file.getvalue().splitlines()[:4]
    assert first.split()[3:] == ["25%", "-:--:--", "left,", "1", "images", "made"]  # no pace yet
    words = second.split()
    assert words[:2] == ["2/4", "jobs"] and set(words[2]) == {"━"}
    assert words[3:] == ["50%", "0:00:20", "left,", "2", "images", "made"]
