"""The journal's promises beyond replay: each entry is on disk before `write` returns, an event
about a task that is no longer the job's latest changes nothing, and the guard leaves no owner."""

from __future__ import annotations

import json
import os

from wanform.runner.engine.guard import OWNER, run_guard
from wanform.runner.engine.journal import Journal
from wanform.runner.files.areas import STATE_DIR


def test_each_entry_is_fsynced_before_write_returns(tmp_path, monkeypatch):
    """write() fsyncs the journal's own file once per entry, after the entry's line is in it."""
    path = tmp_path / ".wanform" / "journal.jsonl"
    synced = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        assert os.fstat(fd).st_ino == path.stat().st_ino
        synced.append([json.loads(line)["task_id"] for line in path.read_text().splitlines()])
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    with Journal(tmp_path) as journal:
        journal.write("submitted", "a", task_id="t1")
        journal.write("submitted", "b", task_id="t2")
    assert synced == [["t1"], ["t1", "t2"]]


def test_an_event_about_an_earlier_task_leaves_the_latest_one_live(tmp_path):
    """When a job was submitted again, the end of its first task does not end the second."""
    with Journal(tmp_path) as journal:
        journal.write("submitted", "a", task_id="t1")
        journal.write("submitted", "a", task_id="t2")
        journal.write("finished", "a", task_id="t1", status="FAILED", outputs=[])
        journal.write("canceled", "a", task_id="t1")
    with Journal(tmp_path) as again:
        record = again.get("a")
        assert (record.task_id, record.status, record.live) == ("t2", None, True)


def test_the_owner_file_lives_exactly_as_long_as_the_outer_guard(tmp_path):
    """The owner file comes with the guard, outlives a nested hold, and goes with the outer one."""
    owner = tmp_path / STATE_DIR / OWNER
    with run_guard(tmp_path):
        with run_guard(tmp_path):
            assert json.loads(owner.read_text())["pid"] == os.getpid()
        assert owner.is_file()
    assert not owner.exists()


def test_a_finished_line_with_a_malformed_failure_is_skipped_as_a_torn_one(tmp_path):
    """Failures are replayed only as `finished` writes them (index, code, message)."""
    with Journal(tmp_path) as journal:
        journal.write("submitted", "a", task_id="t1")
        failure = {"index": 2, "code": "InternalError.Timeout", "message": "late"}
        journal.write("finished", "a", task_id="t1", status="SUCCEEDED", failures=[failure])
        journal.write("submitted", "b", task_id="t2")
        journal.write("finished", "b", task_id="t2", status="SUCCEEDED", failures=[{"index": [2]}])
    with Journal(tmp_path) as again:
        assert again.get("a").failures == [failure]
        assert (again.get("b").status, list(again.get("b").failures)) == (None, [])
