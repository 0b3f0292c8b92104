"""What a run tells while it works, as the engine sees it: `reports/progress.py` implements it (a
live panel, plain lines, an event stream), so the engine never imports the reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from wanform.runner.engine.states import JobState, RunResult


class Progress(Protocol):
    """Where the engine sends a run's start, each job's steps and end, notices, and its stop."""

    def start(self, result: RunResult, throttled: Callable[[], int]) -> None: ...

    def job_ended(self, job: JobState) -> None: ...

    def notice(self, text: str) -> None: ...

    def event(self, kind: str, job: JobState, **details: object) -> None: ...

    def stop(self) -> None: ...
