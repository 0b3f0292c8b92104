"""What a run did, job by job, and its two reports: lines for people and a JSON document for machines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TextIO

from runner.errors import WanformError

REPORT_VERSION = 1
EXIT_OK, EXIT_INVALID, EXIT_FAILED, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 1, 3, 4, 130

# A job's phases while it runs, then how it ended.
QUEUED, PREPARING, SUBMITTING, PENDING, RUNNING, DOWNLOADING = (
    "queued", "preparing", "submitting", "pending", "running", "downloading")
SUCCEEDED, PARTIAL, FAILED, SKIPPED, INTERRUPTED, STOPPED = (
    "succeeded", "partial", "failed", "skipped", "interrupted", "stopped")
ENDED = frozenset({SUCCEEDED, PARTIAL, FAILED, SKIPPED, INTERRUPTED, STOPPED})
IN_FLIGHT = frozenset({SUBMITTING, PENDING, RUNNING})


@dataclass
class ImageOut:
    index: int
    file: str
    sha256: str
    bytes: int


@dataclass
class ImageFailure:
    index: int
    code: str
    message: str


@dataclass
class JobState:
    """One job of the run: where it is, and what it produced or why it failed."""

    recipe: str
    job: str
    model: str
    state: str = QUEUED
    task_id: str | None = None
    request_id: str | None = None
    finished_at: str | None = None
    resumed: bool = False
    images: list[ImageOut] = field(default_factory=list)
    failures: list[ImageFailure] = field(default_factory=list)
    error: WanformError | None = None
    notices: list[str] = field(default_factory=list)
    sidecar: str | None = None

    @property
    def label(self) -> str:
        return f"{self.recipe}: {self.job}"

    def as_dict(self) -> dict:
        out = {
            "recipe": self.recipe, "job": self.job, "model": self.model, "status": self.state,
            "task_id": self.task_id, "request_id": self.request_id, "resumed": self.resumed, "sidecar": self.sidecar,
            "images": [vars(i) for i in self.images], "failed_images": [vars(f) for f in self.failures],
            "notices": self.notices,
            "error": None,
        }
        if self.error is not None:
            out["error"] = {"code": self.error.code, "message": self.error.message, "hint": self.error.hint}
        return out


@dataclass
class RunResult:
    """The whole run: its jobs, why it stopped early (if it did), and what it sent."""

    target: str
    jobs: list[JobState]
    stopped: WanformError | None = None
    interrupted: bool = False
    elapsed: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    retried: int = 0

    def count(self, *states: str) -> int:
        return sum(1 for j in self.jobs if j.state in states)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.stopped is not None:
            return EXIT_STOPPED
        return EXIT_OK if self.count(SUCCEEDED, SKIPPED) == len(self.jobs) else EXIT_FAILED

    def summary(self) -> dict:
        return {
            "jobs": len(self.jobs), "succeeded": self.count(SUCCEEDED), "partial": self.count(PARTIAL),
            "failed": self.count(FAILED), "skipped": self.count(SKIPPED),
            "not_finished": self.count(INTERRUPTED, STOPPED) + sum(1 for j in self.jobs if j.state not in ENDED),
            "images": sum(len(j.images) for j in self.jobs),
            "failed_images": sum(len(j.failures) for j in self.jobs),
            "requests": sum(self.requests.values()), "throttled": self.throttled, "retried": self.retried,
            "elapsed_seconds": round(self.elapsed, 3),
        }


def job_line(job: JobState) -> str:
    """One line per finished job: status, name, and what came of it."""
    if job.state in (SUCCEEDED, SKIPPED, PARTIAL):
        made = f"{len(job.images)} image{'s' * (len(job.images) != 1)}"
        extra = "".join(f"; image {f.index} failed: {f.code}: {f.message}" for f in job.failures)
        why = " (done in an earlier run)" if job.state == SKIPPED else ""
        return f"{job.state:<9} {job.label}: {made}{why}{extra}"
    detail = job.error.line() if job.error else "not finished"
    return f"{job.state:<9} {job.label}: {detail}"


def stop_line(result: RunResult) -> str | None:
    if result.interrupted:
        return "interrupted: pending tasks were cancelled; rerun `wanform run` to resume the others"
    if result.stopped is not None:
        return f"stopped: {result.stopped.line()}"
    return None


def text(result: RunResult, out: TextIO) -> None:
    """The final summary for people (job lines are printed as jobs end)."""
    s = result.summary()
    line = stop_line(result)
    if line:
        out.write(line + "\n")
    verdict = {0: "ok", 3: "failed", 4: "stopped", 130: "interrupted"}[result.exit_code]
    out.write(f"{verdict}: {s['jobs']} jobs: {s['succeeded']} succeeded, {s['partial']} partial, {s['failed']} failed, "
              f"{s['skipped']} skipped, {s['not_finished']} not finished; {s['images']} images; "
              f"{s['requests']} requests, {s['throttled']} throttled (429); {s['elapsed_seconds']:.1f}s\n")


def as_json(result: RunResult, out: TextIO) -> None:
    """A stable machine-readable report."""
    doc = {
        "version": REPORT_VERSION, "target": result.target, "exit_code": result.exit_code,
        "summary": result.summary(), "requests": dict(sorted(result.requests.items())),
        "stopped": None if result.stopped is None else {"code": result.stopped.code, "message": result.stopped.message,
                                                        "hint": result.stopped.hint},
        "interrupted": result.interrupted,
        "jobs": [j.as_dict() for j in result.jobs],
    }
    out.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def as_event(result: RunResult, out: TextIO) -> None:
    """The last line of an `-o ndjson` stream: how the run ended."""
    doc = {"v": 1, "event": "run_finished", "target": result.target, "exit_code": result.exit_code,
           "summary": result.summary(), "interrupted": result.interrupted,
           "stopped": None if result.stopped is None else {"code": result.stopped.code, "message": result.stopped.message}}
    out.write(json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n")


REPORTERS = {"text": text, "json": as_json, "ndjson": as_event}
