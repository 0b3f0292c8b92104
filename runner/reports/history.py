"""What each run leaves for `wanform report`: its summary in ROOT/.wanform/runs/, one JSON per run.

Files are named by the run's UTC start so that name order is time order (newest last); the newest
`KEPT` stay. The report reads them with the lock and the sidecars, never the run's stdout. A
summary's shape is `RunSummary`; one that breaks it is passed over, as one that is not JSON is.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TypedDict, TypeGuard

from wanform.runner import versions
from wanform.runner.engine.states import (
    BLOCKED,
    FAILED,
    INTERRUPTED,
    PARTIAL,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    UNRESOLVED,
    RunResult,
)
from wanform.runner.files.areas import STATE_DIR
from wanform.runner.files.atomic import write_atomic
from wanform.runner.timestamps import utc_now
from wanform.spec.models import MODELS

RUNS_DIR = "runs"
KEPT = 10

# The states a report shows, and the run's job states they come from (one place to adapt).
# A job the CLI and `run --json` call blocked (its upstream made no input) is blocked here too.
# A job whose recipe changed since its images were made is out of date, whatever they were.
COMPLETE, NOT_RUN, OUTDATED = "complete", "not run", "changed"
REPORT_STATES = (COMPLETE, PARTIAL, FAILED, UNRESOLVED, BLOCKED, OUTDATED, NOT_RUN)
_FROM_RUN = {
    SUCCEEDED: COMPLETE,
    PARTIAL: PARTIAL,
    FAILED: FAILED,
    UNRESOLVED: UNRESOLVED,
    INTERRUPTED: NOT_RUN,
    STOPPED: NOT_RUN,
    BLOCKED: BLOCKED,  # not run because an upstream job did not make its input; the error says why
}


class RunError(TypedDict):
    code: str
    message: str


class RunJob(TypedDict):
    """One job of the run, by lock key: its state in the run and why it failed, if it did."""

    key: str
    state: str
    task_id: str | None
    error: RunError | None


class RunSummary(TypedDict):
    """One run: the counts the report shows, and its jobs."""

    version: int
    wanform: str
    finished_at: str
    target: str  # `Target.made_on`: emulator, dashscope:REGION or a URL
    states: dict[str, int]  # report state -> jobs
    images: int
    failed_images: int
    requests: int
    throttled: int
    cost_cny: dict[str, float]  # model -> list price of the images made
    wall_seconds: float
    jobs: list[RunJob]


def report_state(run_state: str | None, entry: Mapping[str, object] | None) -> str:
    """A job's state for the report, from its last run (if any) and its lock entry (if any).

    A job the last run found done earlier (the engine's `skipped`) is what its lock entry says; a
    job its upstream blocked is blocked, whatever an older lock entry says.
    """
    if run_state in _FROM_RUN:
        return _FROM_RUN[run_state]
    if entry is not None:
        return PARTIAL if entry.get("failures") else COMPLETE
    return NOT_RUN if run_state in (None, SKIPPED) else run_state


def runs_dir(root: Path) -> Path:
    return root / STATE_DIR / RUNS_DIR


def _version() -> str:
    try:
        return metadata.version("wanform")
    except metadata.PackageNotFoundError:
        return "unknown"


def summary(keys: list[str], result: RunResult, target: str) -> RunSummary:
    """The run as the report reads it; `keys` are the lock keys of `result.jobs`, in order."""
    states: dict[str, int] = {}
    cost: dict[str, float] = {}
    jobs: list[RunJob] = []
    for key, job in zip(keys, result.jobs, strict=True):
        # a job found done by an earlier run is what that run made of it
        state = report_state(
            job.state, {"failures": job.failures} if job.state == SKIPPED else None
        )
        states[state] = states.get(state, 0) + 1
        if job.model in MODELS and job.state != SKIPPED:
            price = len(job.images) * MODELS[job.model].price_cny
            cost[job.model] = round(cost.get(job.model, 0.0) + price, 6)
        error: RunError | None = (
            {"code": job.error.code, "message": job.error.message} if job.error else None
        )
        jobs.append({"key": key, "state": job.state, "task_id": job.task_id, "error": error})
    s = result.summary()
    return {
        "version": versions.RUN_HISTORY,
        "wanform": _version(),
        "finished_at": utc_now(),
        "target": target,
        "states": dict(sorted(states.items())),
        "images": s["images"],
        "failed_images": s["failed_images"],
        "requests": s["requests"],
        "throttled": s["throttled"],
        "cost_cny": dict(sorted(cost.items())),
        "wall_seconds": s["elapsed_seconds"],
        "jobs": jobs,
    }


def record_run(root: Path, keys: list[str], result: RunResult, target: str) -> str | None:
    """Write this run's summary and drop all but the newest `KEPT`; a warning if it cannot be
    written (the run itself is recorded in the lock either way)."""
    folder = runs_dir(root)
    doc = summary(keys, result, target)
    name = f"run-{utc_now('microseconds', zulu=True).replace(':', '')}-{os.getpid()}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        write_atomic(folder / name, text.encode("utf-8"))
    except OSError as exc:
        return f"the run summary was not kept ({folder}: {exc.strerror or exc})"
    for old in run_files(root)[:-KEPT]:
        with contextlib.suppress(OSError):
            old.unlink()
    return None


def run_files(root: Path) -> list[Path]:
    """The kept run summaries, oldest first."""
    folder = runs_dir(root)
    return sorted(folder.glob("run-*.json")) if folder.is_dir() else []


def load_runs(root: Path) -> list[RunSummary]:
    """The kept run summaries that can be read, oldest first (a damaged one is passed over)."""
    runs = []
    for path in run_files(root):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _is_summary(doc):
            runs.append(doc)
    return runs


def last_states(runs: list[RunSummary]) -> dict[str, RunJob]:
    """Each job's entry in the newest run that ran it, by lock key."""
    return {job["key"]: job for run in runs for job in run["jobs"]}


def _is_summary(doc: object) -> TypeGuard[RunSummary]:
    """Whether `doc` is a summary of this version with every field of its type."""
    return (
        isinstance(doc, dict)
        and doc.get("version") == versions.RUN_HISTORY
        and all(isinstance(doc.get(k), str) for k in ("wanform", "finished_at", "target"))
        and all(_is_int(doc.get(k)) for k in ("images", "failed_images", "requests", "throttled"))
        and _is_number(doc.get("wall_seconds"))
        and _is_map(doc.get("states"), _is_int)
        and _is_map(doc.get("cost_cny"), _is_number)
        and isinstance(doc.get("jobs"), list)
        and all(_is_job(job) for job in doc["jobs"])
    )


def _is_job(job: object) -> bool:
    if not isinstance(job, dict):
        return False
    error = job.get("error")
    return (
        isinstance(job.get("key"), str)
        and isinstance(job.get("state"), str)
        and isinstance(job.get("task_id"), (str, type(None)))
        and (
            error is None
            or _is_map(error, lambda v: isinstance(v, str))
            and error.keys() == {"code", "message"}
        )
    )


def _is_map(value: object, check: Callable[[object], bool]) -> bool:
    """Whether `value` is a JSON object whose every value passes `check`."""
    return isinstance(value, dict) and all(check(v) for v in value.values())


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or isinstance(value, float)
