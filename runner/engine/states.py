"""What a run did, job by job: each job's state, images and failures, and the run's totals and exit
code; and `Progress`, what the engine tells them to while it works (`reports/progress.py`
implements it, so the engine never imports the reports)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from wanform.runner.api.answers import ImageFailure
from wanform.runner.api.errors import WanformError
from wanform.runner.engine.journal import JournalError, JournalOutput
from wanform.runner.engine.outputs import DiskError
from wanform.runner.engine.submission import UnresolvedError
from wanform.runner.exits import Exit
from wanform.runner.storage.errors import NotStored
from wanform.spec.errors import lookup

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
# How a job stands once it ended, as the lock and the reports name it.
COMPLETE = "complete"
OUTCOMES = {SUCCEEDED: COMPLETE, PARTIAL: PARTIAL, FAILED: FAILED, UNRESOLVED: UNRESOLVED}

# Per-image failure codes of the runner's own: the task SUCCEEDED and the image is billed, but its
# file was not kept (it could not be downloaded or written). Its task still has it.
NOT_KEPT = frozenset({"OutputNotWritten", "FileTransfer", NotStored.code})
# Job error codes of the runner's own after which its task is billed (or will be, when it finishes)
# and its images are not all kept: the run could not write its files or its journal.
UNKEPT = NOT_KEPT | {JournalError.code, DiskError.code}
# What finishes a partial job: fetch its task's images again (free), or submit it again (billed).
REFETCH, RESUBMIT = "refetch", "resubmit"


def retryable(code: str) -> bool:
    """Whether an image that failed with `code` may be made by the same request later (timeouts,
    internal errors), by the error catalogue; content refusals and unknown codes may not."""
    known = lookup(code)
    return known is not None and known.retryable


def rerun_kind(failures: Iterable[Mapping[str, object]]) -> str | None:
    """What finishes a job that ended with these per-image failures: RESUBMIT when one may pass on
    a retry, else REFETCH when a file was not kept, else None (content failures: a rerun would
    fail and bill again)."""
    codes = [str(f.get("code")) for f in failures]
    if any(retryable(code) for code in codes):
        return RESUBMIT
    return REFETCH if any(code in NOT_KEPT for code in codes) else None


@dataclass(slots=True)
class ImageOut:
    index: int
    file: str
    sha256: str
    bytes: int
    # width and height, when read: from a written PNG's header, or where the file left the disk
    pixels: tuple[int, int] | None = None

    def record(self) -> JournalOutput:
        """The image as the journal records it."""
        return {"index": self.index, "file": self.file, "sha256": self.sha256, "bytes": self.bytes}


@dataclass(slots=True)
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
    # empty until the job ends: a shared empty tuple, not three lists per job of a large run
    images: Sequence[ImageOut] = ()
    failures: Sequence[ImageFailure] = ()
    error: WanformError | None = None
    notices: Sequence[str] = ()
    sidecar: str | None = None
    sidecar_sha256: str | None = None  # `sha256:<hex>` of a sidecar in a store (not on disk)

    @property
    def label(self) -> str:
        return f"{self.recipe}: {self.job}"

    @property
    def outcome(self) -> str | None:
        """complete, partial, failed or unresolved; None while (or because) it did not finish. A
        job skipped as done is what the earlier run made of it."""
        if self.state == SKIPPED:
            return PARTIAL if self.failures else COMPLETE
        return OUTCOMES.get(self.state)

    @property
    def rerun(self) -> str | None:
        """For a partial job, what a rerun does about it (REFETCH, RESUBMIT or None: nothing)."""
        return rerun_kind(f.record() for f in self.failures) if self.outcome == PARTIAL else None

    @property
    def unkept(self) -> bool:
        """Whether the job's task is billed, or will be when it finishes, and a rerun fetches its
        images from it: the run stopped while the task ran, or its files were not all kept."""
        if self.task_id is None:
            return False
        codes = [f.code for f in self.failures] + ([self.error.code] if self.error else [])
        return self.state == STOPPED or not UNKEPT.isdisjoint(codes)

    def as_dict(self) -> dict:
        out: dict[str, object] = {
            "recipe": self.recipe,
            "job": self.job,
            "model": self.model,
            "status": self.state,
            "state": self.outcome,
            "rerun": self.rerun,
            "task_id": self.task_id,
            "request_id": self.request_id,
            "resumed": self.resumed,
            "sidecar": self.sidecar,
            "images": [i.record() for i in self.images],
            "failed_images": [f.record() for f in self.failures],
            "notices": self.notices,
            "error": None,
        }
        if self.error is not None:
            error: dict[str, object] = {
                "code": self.error.code,
                "message": self.error.message,
                "hint": self.error.hint,
            }
            if isinstance(self.error, UnresolvedError):  # the message names only the first few
                error["candidates"] = self.error.candidates
            out["error"] = error
        return out


@dataclass(repr=False)
class RunResult:
    """The whole run: its jobs, why it stopped early (if it did), and what it sent.

    Its repr is a line, not every job: Python 3.11's asyncio.run builds the repr of its main task,
    and so of the task's result, as it restores the SIGINT handler (20 MB at 20,000 jobs).
    """

    target: str
    jobs: list[JobState]
    stopped: WanformError | None = None
    interrupted: bool = False
    terminated: bool = False  # the interrupt was a SIGTERM: exit 143, not 130
    elapsed: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    retried: int = 0
    cancelled: list[str] = field(default_factory=list)  # tasks cancelled as the run was stopped

    def __repr__(self) -> str:
        return f"<RunResult {self.target}: {len(self.jobs)} jobs, exit {int(self.exit_code)}>"

    def count(self, *states: str) -> int:
        return sum(1 for j in self.jobs if j.state in states)

    def unkept_tasks(self) -> list[str]:
        """The tasks billed (or to be) whose images a rerun fetches without paying again."""
        return [j.task_id for j in self.jobs if j.task_id is not None and j.unkept]

    @property
    def exit_code(self) -> Exit:
        if self.interrupted:
            return Exit.TERMINATED if self.terminated else Exit.INTERRUPTED
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


class Progress(Protocol):
    """Where the engine sends a run's start, each job's steps and end, notices, and its stop."""

    def start(self, result: RunResult, throttled: Callable[[], int]) -> None: ...

    def job_ended(self, job: JobState) -> None: ...

    def notice(self, text: str) -> None: ...

    def event(self, kind: str, job: JobState, **details: object) -> None: ...

    def stop(self) -> None: ...
