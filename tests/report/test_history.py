"""Run summaries in .wanform/runs: written by each run, a handful kept, read back by the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_kit import wanform

from wanform.runner.api.answers import ImageFailure
from wanform.runner.api.errors import TaskFailedError
from wanform.runner.engine.chain import UpstreamError
from wanform.runner.engine.states import (
    BLOCKED,
    FAILED,
    PARTIAL,
    SUCCEEDED,
    ImageOut,
    JobState,
    RunResult,
)
from wanform.runner.reports import history


def _result() -> RunResult:
    done = JobState("a.yaml", "a", "wan2.7-image", SUCCEEDED, task_id="t1")
    done.images = [ImageOut(1, "x.png", "00", 1), ImageOut(2, "y.png", "00", 1)]
    half = JobState("b.yaml", "b", "wan2.7-image-pro", PARTIAL, task_id="t2")
    half.images = [ImageOut(1, "z.png", "00", 1)]
    half.failures = [ImageFailure(2, "DataInspectionFailed", "no")]
    failed = JobState("c.yaml", "c", "wan2.7-image", FAILED, task_id="t3")
    failed.error = TaskFailedError("InternalError", "boom", task_id="t3")
    result = RunResult("emulator http://x", [done, half, failed], elapsed=1.25)
    result.requests = {"submit": 3, "query": 6}
    result.throttled = 2
    return result


def test_summary_counts_states_images_requests_and_cost() -> None:
    """The summary has jobs by state, images made and failed, requests, 429s, cost per model."""
    doc = history.summary(["a::a", "b::b", "c::c"], _result(), "emulator")
    assert doc["states"] == {"complete": 1, "failed": 1, "partial": 1}
    assert (doc["images"], doc["failed_images"], doc["requests"], doc["throttled"]) == (3, 1, 9, 2)
    assert doc["cost_cny"] == {"wan2.7-image": 0.4, "wan2.7-image-pro": 0.5}
    assert (doc["target"], doc["wall_seconds"]) == ("emulator", 1.25)
    assert doc["wanform"] and doc["version"] == 1
    assert doc["jobs"][2] == {
        "key": "c::c",
        "state": "failed",
        "task_id": "t3",
        "error": {"code": "InternalError", "message": "boom"},
    }


def test_a_handful_are_kept_newest_last(tmp_path: Path) -> None:
    """After more runs than KEPT, the newest KEPT files remain, in the order they were written."""
    for n in range(history.KEPT + 3):
        result = _result()
        result.throttled = n
        assert history.record_run(tmp_path, ["a::a", "b::b", "c::c"], result, "emulator") is None
    runs = history.load_runs(tmp_path)
    assert [r["throttled"] for r in runs] == list(range(3, history.KEPT + 3))
    assert not list(history.runs_dir(tmp_path).glob(".*"))  # no temporary left behind


def test_an_unwritable_folder_is_a_warning(tmp_path: Path) -> None:
    """A run whose summary cannot be written says why and goes on."""
    (tmp_path / ".wanform").write_text("a file where the folder should be")
    warning = history.record_run(tmp_path, ["a::a", "b::b", "c::c"], _result(), "emulator")
    assert warning is not None and "not kept" in warning


def test_states_come_from_the_newest_run_that_ran_the_job() -> None:
    """A job the last run did not touch keeps the state of the run before; the lock decides the
    rest."""
    runs = [
        {"jobs": [{"key": "a", "state": FAILED}, {"key": "b", "state": SUCCEEDED}]},
        {"jobs": [{"key": "a", "state": PARTIAL}]},
    ]
    last = history.last_states(runs)
    assert history.report_state(last["a"]["state"], None) == "partial"
    assert history.report_state(last["b"]["state"], {}) == "complete"
    assert history.report_state("skipped", {"failures": [{"index": 2}]}) == "partial"
    assert history.report_state(None, None) == "not run"


def test_the_run_command_writes_one(ran: Path) -> None:
    """`wanform run` left a summary that the report's numbers come from."""
    [path] = history.run_files(ran)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["states"] == {"complete": 1, "failed": 1, "partial": 1}
    # the target as the lock records it (`Target.made_on`), here the emulator process's URL
    assert doc["images"] == 3 and doc["target"].endswith("/api/v1")
    assert wanform(ran, "report", "-o", "markdown").stdout.count("| `recipes/") == 3


def test_a_job_its_upstream_blocked_is_blocked_with_the_reason() -> None:
    """Blocked by its upstream: `blocked` in the summary's counts and in the report, as the CLI and
    `run --json` say, even over an older lock entry, and the run keeps the reason."""
    blocked = JobState("w.yaml", "w", "wan2.7-image", BLOCKED)
    blocked.error = UpstreamError("blocked: upstream f.yaml::f failed (InternalError)")
    doc = history.summary(["w.yaml::w"], RunResult("emulator", [blocked]), "emulator")
    assert doc["states"] == {"blocked": 1}
    assert doc["jobs"][0]["error"] == {
        "code": "UpstreamFailed",
        "message": "blocked: upstream f.yaml::f failed (InternalError)",
    }
    assert history.report_state(BLOCKED, None) == history.report_state(BLOCKED, {}) == "blocked"
    assert "blocked" in history.REPORT_STATES and "skipped" not in history.REPORT_STATES


@pytest.mark.parametrize(
    "damage",
    [
        {"jobs": "x"},
        {"jobs": [{"key": 1, "state": "failed", "task_id": None, "error": None}]},
        {"states": []},
        {"wall_seconds": "1.2"},
        {"cost_cny": {"wan2.7-image": "x"}},
        {"target": None},
    ],
)
def test_a_damaged_summary_is_passed_over(tmp_path: Path, damage: dict) -> None:
    """A summary of this version with a field not of its type is passed over, as one that is not
    JSON is: the report never trips on it."""
    assert history.record_run(tmp_path, ["a::a", "b::b", "c::c"], _result(), "emulator") is None
    [path] = history.run_files(tmp_path)
    assert len(history.load_runs(tmp_path)) == 1
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")) | damage))
    assert history.load_runs(tmp_path) == []
