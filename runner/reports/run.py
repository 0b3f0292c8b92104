"""The report of a run: lines for people, a JSON document, or the last event of an ndjson stream."""

from __future__ import annotations

import json
from typing import TextIO

from wanform.runner import versions
from wanform.runner.engine.states import (
    PARTIAL,
    REFETCH,
    RESUBMIT,
    SKIPPED,
    SUCCEEDED,
    JobState,
    RunResult,
)

# What a rerun does about a partial job, by JobState.rerun.
RERUN = {
    RESUBMIT: "a rerun submits the whole request again",
    REFETCH: "a rerun fetches the missing images from the same task, not billed again",
    None: "not rerun: it would fail and bill again; --force reruns it",
}


def job_line(job: JobState) -> str:
    """One line per finished job: status, name, and what came of it."""
    if job.state in (SUCCEEDED, SKIPPED, PARTIAL):
        made = f"{len(job.images)} image{'s' * (len(job.images) != 1)}"
        extra = "".join(f"; image {f.index} failed: {f.code}: {f.message}" for f in job.failures)
        why = " (done in an earlier run)" if job.state == SKIPPED else ""
        then = f"; {RERUN[job.rerun]}" if job.outcome == PARTIAL else ""
        return f"{job.state:<9} {job.label}: {made}{why}{extra}{then}"
    detail = job.error.line() if job.error else "not finished"
    return f"{job.state:<9} {job.label}: {detail}"


def stop_line(result: RunResult) -> str | None:
    if result.interrupted:
        n = len(result.cancelled)
        cancelled = (
            f"{n} PENDING task{'s were' if n != 1 else ' was'} cancelled"
            if n
            else "no task was PENDING, none cancelled"
        )
        return f"{result.exit_code.verdict}: {cancelled}; rerun `wanform run` to resume the others"
    if result.stopped is not None:
        billed = result.unkept_tasks()
        if not billed:
            return f"stopped: {result.stopped.line()}"
        return (
            f"stopped: {result.stopped.line()}\nbilled: task(s) {', '.join(billed)} are billed (or "
            "will be when they finish) and their images are not all kept: a rerun fetches them "
            "without paying again"
        )
    return None


def text(result: RunResult, out: TextIO) -> None:
    """The final summary for people (job lines are printed as jobs end)."""
    s = result.summary()
    line = stop_line(result)
    if line:
        out.write(line + "\n")
    out.write(
        f"{result.exit_code.verdict}: {s['jobs']} jobs: {s['succeeded']} succeeded, "
        f"{s['partial']} partial, {s['failed']} failed, {s['skipped']} skipped, "
        + (f"{s['unresolved']} unresolved, " if s["unresolved"] else "")
        + (f"{s['blocked']} blocked by upstream, " if s["blocked"] else "")
        + f"{s['not_finished']} not finished; {s['images']} images; "
        f"{s['requests']} requests, {s['throttled']} throttled (429); {s['elapsed_seconds']:.1f}s\n"
    )


def as_json(result: RunResult, out: TextIO) -> None:
    """A stable machine-readable report."""
    doc = {
        "version": versions.RUN_REPORT,
        "target": result.target,
        "exit_code": result.exit_code,
        "summary": result.summary(),
        "requests": dict(sorted(result.requests.items())),
        "stopped": None
        if result.stopped is None
        else {
            "code": result.stopped.code,
            "message": result.stopped.message,
            "hint": result.stopped.hint,
            "billed_tasks": result.unkept_tasks(),
        },
        "interrupted": result.interrupted,
        "jobs": [j.as_dict() for j in result.jobs],
    }
    out.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def as_event(result: RunResult, out: TextIO) -> None:
    """The last line of an `-o ndjson` stream: how the run ended."""
    doc = {
        "v": versions.RUN_EVENTS,
        "event": "run_finished",
        "target": result.target,
        "exit_code": result.exit_code,
        "summary": result.summary(),
        "interrupted": result.interrupted,
        "stopped": None
        if result.stopped is None
        else {"code": result.stopped.code, "message": result.stopped.message},
    }
    out.write(json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n")


REPORTERS = {"text": text, "json": as_json, "ndjson": as_event}
