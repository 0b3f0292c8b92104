"""What a run did, job by job: each job's state, images and failures, and the run's totals and exit
code."""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.api.errors import WanformError
from runner.exits import Exit

# A job's phases while it runs, then how it ended.
QUEUED, PREPARING, SUBMITTING, PENDING, RUNNING, DOWNLOADING = (
    "queued",
    "preparing",
    "submitting",
    "pending",
    "running",
    "downloading",
)
SUCCEEDED, PARTIAL, FAILED, SKIPPED, INTERRUPTED, STOPPED = (
    "succeeded",
    "partial",
    "failed",
    "skipped",
    "interrupted",
    "stopped",
)
# A lost submission answer that no task surely matches: nothing taken, nothing paid again.
UNRESOLVED = "unresolved"
# Not run: an upstream job did not make the image it takes.
BLOCKED = "blocked"
ENDED = frozenset({SUCCEEDED, PARTIAL, FAILED, SKIPPED, INTERRUPTED, STOPPED, UNRESOLVED, BLOCKED})
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
        out: dict[str, object] = {
            "recipe": self.recipe,
            "job": self.job,
            "model": self.model,
            "status": self.state,
            "task_id": self.task_id,
            "request_id": self.request_id,
            "resumed": self.resumed,
            "sidecar": self.sidecar,
            "images": [vars(i) for i in self.images],
            "failed_images": [vars(f) for f in self.failures],
            "notices": self.notices,
            "error": None,
        }
        if self.error is not None:
            out["error"] = {
                "code": self.error.code,
                "message": self.error.message,
                "hint": self.error.hint,
            }
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
    def exit_code(self) -> Exit:
        if self.interrupted:
            return Exit.INTERRUPTED
        if self.stopped is not None:
            return Exit.STOPPED
        return Exit.OK if self.count(SUCCEEDED, SKIPPED) == len(self.jobs) else Exit.FAILED

    def summary(self) -> dict:
        return {
            "jobs": len(self.jobs),
            "succeeded": self.count(SUCCEEDED),
            "partial": self.count(PARTIAL),
            "failed": self.count(FAILED),
            "skipped": self.count(SKIPPED),
            "unresolved": self.count(UNRESOLVED),
            "blocked": self.count(BLOCKED),
            "not_finished": self.count(INTERRUPTED, STOPPED)
            + sum(1 for j in self.jobs if j.state not in ENDED),
            "images": sum(len(j.images) for j in self.jobs),
            "failed_images": sum(len(j.failures) for j in self.jobs),
            "requests": sum(self.requests.values()),
            "throttled": self.throttled,
            "retried": self.retried,
            "elapsed_seconds": round(self.elapsed, 3),
        }
