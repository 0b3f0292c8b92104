"""A run's exit code from how its jobs ended, as `wanform run --help` lists them."""

from __future__ import annotations

import asyncio

import pytest

from wanform.runner.api.errors import AccountError
from wanform.runner.engine.states import (
    FAILED,
    PARTIAL,
    SKIPPED,
    SUCCEEDED,
    JobState,
    RunResult,
)
from wanform.runner.exits import Exit
from wanform.runner.reports.run import stop_line


def result(*states: str, stopped: bool = False, interrupted: bool = False) -> RunResult:
    jobs = [JobState("r.yaml", f"j{i}", "wan2.7-image", state=s) for i, s in enumerate(states)]
    stop = AccountError(401, "InvalidApiKey", "Invalid API-key provided.") if stopped else None
    return RunResult("emulator", jobs, stopped=stop, interrupted=interrupted)


@pytest.mark.parametrize(
    ("states", "code"),
    [
        ((SUCCEEDED, SKIPPED), Exit.OK),
        ((SKIPPED, SKIPPED), Exit.OK),
        ((SUCCEEDED, PARTIAL), Exit.FAILED),
        ((SKIPPED, FAILED), Exit.FAILED),
    ],
)
def test_every_job_done_or_already_done_is_success(states, code):
    """Succeeded and skipped jobs exit 0; one partial or failed job makes it 3."""
    assert result(*states).exit_code == code


def test_a_stop_exits_4_and_an_interrupt_130_even_after_a_stop():
    """An account error stops the run with 4; Ctrl-C wins over it with 130, SIGTERM with 143."""
    assert result(SUCCEEDED, stopped=True).exit_code == Exit.STOPPED
    assert result(SUCCEEDED, stopped=True, interrupted=True).exit_code == Exit.INTERRUPTED
    terminated = result(SUCCEEDED, stopped=True, interrupted=True)
    terminated.terminated = True
    assert terminated.exit_code == Exit.TERMINATED == 143


def test_a_runs_result_is_never_spelled_out_job_by_job(monkeypatch):
    """Python 3.11's asyncio.run builds its main task's repr, result included, as it puts the
    SIGINT handler back: at 20,000 jobs that was a 20 MB string at the end of every run."""
    spelled: list[JobState] = []
    monkeypatch.setattr(JobState, "__repr__", lambda state: spelled.append(state) or "job")
    many = result(*[SUCCEEDED] * 500)

    async def run() -> RunResult:
        return many

    assert asyncio.run(run()) is many
    assert spelled == []
    assert repr(many) == "<RunResult emulator: 500 jobs, exit 0>"


def test_an_interrupt_says_tasks_were_cancelled_only_when_some_were():
    """After Ctrl-C the report counts the PENDING tasks cancelled, and with none says so."""
    none = result(SUCCEEDED, FAILED, interrupted=True)
    assert stop_line(none) == (
        "interrupted: no task was PENDING, none cancelled; rerun `wanform run` to resume the others"
    )
    some = result(SUCCEEDED, FAILED, interrupted=True)
    some.cancelled = ["t-1", "t-2"]
    assert stop_line(some) == (
        "interrupted: 2 PENDING tasks were cancelled; rerun `wanform run` to resume the others"
    )
