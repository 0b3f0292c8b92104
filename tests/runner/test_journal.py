"""The journal: durable task ids, replay by a later run, a crash's half line, one run at a time."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from wanform.runner.engine.guard import RunBusy
from wanform.runner.engine.journal import Journal


def test_a_rerun_reads_the_latest_task_of_each_job(tmp_path):
    """Submitted tasks are live; finished, cancelled and expired ones are not; intents are
    remembered."""
    with Journal(tmp_path) as journal:
        journal.write("submitted", "a", task_id="t1", request_id="r1")
        journal.write("submitted", "b", task_id="t2")
        journal.write(
            "finished", "b", task_id="t2", status="SUCCEEDED", outputs=[{"file": "x.png"}]
        )
        journal.write("submitted", "c", task_id="t3")
        journal.write("canceled", "c", task_id="t3")
        journal.write("submitting", "d", at=12.5)
    with Journal(tmp_path) as again:
        a, b, c, d = (again.get(k) for k in "abcd")
        assert (a.task_id, a.request_id, a.status, a.live) == ("t1", "r1", None, True)
        assert (b.status, b.outputs, b.live) == (
            "SUCCEEDED",
            [{"file": str(tmp_path / "x.png")}],  # a relative file is the project's
            True,
        )
        assert (c.status, c.live) == ("CANCELED", False)
        assert (d.intent, d.live) == (12.5, False)
        assert again.task_ids == {"t1", "t2", "t3"}


def test_a_refused_submission_clears_its_intent(tmp_path):
    """An error answer means no task was made, so no lost task is looked for."""
    with Journal(tmp_path) as journal:
        journal.write("submitting", "a", at=1.0)
        journal.write("refused", "a", code="Throttling.RateQuota")
        assert journal.get("a").intent is None


def test_a_line_cut_by_a_crash_is_skipped_and_not_glued_to_the_next(tmp_path):
    """A half-written last line is ignored, and the next entry starts on a line of its own."""
    with Journal(tmp_path) as journal:
        journal.write("submitted", "a", task_id="t1")
    with open(journal.path, "a", encoding="utf-8") as fh:
        fh.write('{"event": "submitted", "job": "b", "task_')
    with Journal(tmp_path) as again:
        assert again.get("b") is None
        again.write("submitted", "c", task_id="t3")
    with Journal(tmp_path) as third:
        assert (third.get("a").task_id, third.get("c").task_id) == ("t1", "t3")


def test_two_runs_cannot_share_a_journal(tmp_path):
    """A journal cannot be opened while another process holds the project's run guard."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_GUARD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(RunBusy, match=f"another wanform run is using .*pid {holder.pid} on"):
            Journal(tmp_path).open()
    finally:
        holder.communicate(b"")
    with Journal(tmp_path) as journal:  # released with the process
        journal.write("submitted", "a", task_id="t1")


HOLD_GUARD = """
import sys
from wanform.runner.engine.guard import run_guard
with run_guard(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.mark.parametrize(
    "line",
    [
        '{"event": "submitted", "job": "b", "task_id": ["t2"]}',
        '{"event": "submitted", "job": "b", "task_id": {"id": "t2"}}',
        '{"event": "submitting", "job": "b", "at": "yesterday"}',
        '{"event": "finished", "job": "a", "task_id": "t1", "outputs": "x.png"}',
        '{"event": "unresolved", "job": "b", "candidates": [1, 2]}',
        '["submitted", "b"]',
    ],
)
def test_a_malformed_line_is_skipped_like_a_torn_one(tmp_path, line):
    """A line whose fields have the wrong types is ignored on replay; the others still count."""
    with Journal(tmp_path) as journal:
        journal.write("submitted", "a", task_id="t1")
    with open(journal.path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    with Journal(tmp_path) as again:
        a = again.get("a")
        assert again.get("b") is None and again.task_ids == {"t1"}
        assert (a.task_id, a.status, list(a.outputs), a.live) == ("t1", None, [], True)


def test_an_unanswered_submission_keeps_its_deadline_and_an_unresolved_job_its_candidates(
    tmp_path,
):
    """The journal gives a rerun the moment a lost request expires and a job's candidates."""
    with Journal(tmp_path) as journal:
        journal.write("submitting", "a", at=100.0, timeout=75.0)
        journal.write("submitting", "b", at=100.0, timeout=75.0)
        journal.write("unresolved", "b", candidates=["t1", "t2"])
        journal.write("submitting", "c", at=100.0, timeout=75.0)
        journal.write("unresolved", "c", candidates=["t1", "t2"])
        journal.write("submitting", "c", at=200.0, timeout=75.0)  # --resubmit-unresolved
    with Journal(tmp_path) as again:
        a, b, c = again.get("a"), again.get("b"), again.get("c")
        assert (a.intent, a.deadline, a.unresolved) == (100.0, 175.0, None)
        assert (b.intent, b.live, b.unresolved) == (None, False, ["t1", "t2"])
        assert (c.intent, c.deadline, c.unresolved) == (200.0, 275.0, None)


def test_the_files_of_a_job_this_run_finished_are_on_disk_not_in_memory(tmp_path):
    """A run of 20,000 jobs must not hold every finished job's file list; the next run reads
    them from the file."""
    outputs = [{"index": 1, "file": "out/a/a-1.png", "sha256": "ab", "bytes": 3}]
    with Journal(tmp_path) as journal:
        journal.write("submitted", "a", task_id="t1", request_id="r1")
        journal.write("finished", "a", task_id="t1", status="SUCCEEDED", outputs=outputs)
        assert (journal.get("a").status, list(journal.get("a").outputs)) == ("SUCCEEDED", [])  # type: ignore[union-attr]
    with Journal(tmp_path) as again:
        record = again.get("a")
    assert record is not None
    assert record.outputs == [{**outputs[0], "file": str(tmp_path / "out" / "a" / "a-1.png")}]


def test_a_journal_holds_in_another_checkout_of_the_project(tmp_path):
    """Output files inside the project are recorded relative to it: a journal committed in one
    checkout reads, in another, as that checkout's files; a file outside stays as it was."""
    first, second, outside = tmp_path / "a", tmp_path / "b", tmp_path / "elsewhere.png"
    outputs = [
        {"index": 1, "file": str(first / "out" / "r" / "j-1.png"), "sha256": "ab", "bytes": 3},
        {"index": 2, "file": str(outside), "sha256": "cd", "bytes": 3},
    ]
    with Journal(first) as journal:
        journal.write("submitted", "j", task_id="t1", request_id="r1")
        journal.write("finished", "j", task_id="t1", status="SUCCEEDED", outputs=outputs)
    (second / ".wanform").mkdir(parents=True)
    shutil.copy(journal.path, second / ".wanform" / "journal.jsonl")
    with Journal(second) as again:
        record = again.get("j")
    assert record is not None
    files = [o["file"] for o in record.outputs]
    assert files == [str(second / "out" / "r" / "j-1.png"), str(outside)]
