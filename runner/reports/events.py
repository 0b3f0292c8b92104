"""A run's progress as events and plain lines, without a terminal library: a line per job and per
notice, `-o ndjson`'s JSON events, or the same events handed to a `wanform.Project.run` callback.

Job lines and the final report go to stdout; notices go to stderr.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import TextIO

from wanform.runner import versions
from wanform.runner.engine.states import JobState, RunResult
from wanform.runner.reports.run import job_line
from wanform.runner.timestamps import utc_now


class Lines:
    """Plain output: a line per job as it ends, a line per notice."""

    def __init__(self, out: TextIO, err: TextIO, job_lines: bool = True) -> None:
        self.out, self.err, self.job_lines = out, err, job_lines

    def start(self, result: RunResult, throttled: Callable[[], int]) -> None:
        self.err.write(f"running {len(result.jobs)} jobs against {result.target}\n")
        self.err.flush()

    def job_ended(self, job: JobState) -> None:
        if self.job_lines:
            self.out.write(job_line(job) + "\n")
            self.out.flush()

    def notice(self, text: str) -> None:
        self.err.write(f"notice: {text}\n")
        self.err.flush()

    def event(self, kind: str, job: JobState, **details: object) -> None:
        """A step of a job (queued, submitted, polled, downloaded); only the event stream shows
        these."""

    def stop(self) -> None:
        pass


class Events(Lines):
    """`-o ndjson`: one versioned JSON object per line on stdout for every step of every job."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        super().__init__(out, err, job_lines=False)

    def _emit(self, doc: dict) -> None:
        self.out.write(json.dumps(stamped(doc), sort_keys=True, ensure_ascii=False) + "\n")
        self.out.flush()

    def start(self, result: RunResult, throttled: Callable[[], int]) -> None:
        self._emit({"event": "run_started", "target": result.target, "jobs": len(result.jobs)})

    def event(self, kind: str, job: JobState, **details: object) -> None:
        self._emit(
            {
                "event": kind,
                "recipe": job.recipe,
                "job": job.job,
                "model": job.model,
                "task_id": job.task_id,
                **details,
            }
        )

    def job_ended(self, job: JobState) -> None:
        self._emit(
            {"event": job.state, **{k: v for k, v in job.as_dict().items() if k != "status"}}
        )

    def notice(self, text: str) -> None:
        self._emit({"event": "notice", "message": text})


class Callback(Events):
    """The events `-o ndjson` prints, handed to `send` as dicts instead: the progress of
    `wanform.Project.run`. Nothing is printed."""

    def __init__(self, send: Callable[[dict], None]) -> None:
        super().__init__(io.StringIO(), io.StringIO())  # never written: every method sends
        self.send = send

    def _emit(self, doc: dict) -> None:
        self.send(stamped(doc))


def stamped(doc: dict) -> dict:
    """An event with the stream's version and the time it happened."""
    return {"v": versions.RUN_EVENTS, "time": utc_now(zulu=True), **doc}
