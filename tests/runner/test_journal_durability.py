"""The journal's lines are durable before the steps that depend on them, while the lines of many
jobs share their writes and fsyncs."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
from pathlib import Path

import pytest
from runner_kit import SEEDS, run

from wanform.runner.api.client import Client
from wanform.runner.engine import journal as journal_module
from wanform.runner.engine import results
from wanform.runner.engine.journal import Journal
from wanform.runner.files import atomic
from wanform.runner.files.atomic import AtomicFile


class Durable:
    """Watches os.fsync: how many times the journal was fsynced, and its text that was durable at
    the last one."""

    def __init__(self, path: Path) -> None:
        self.path, self.fsyncs, self.size = path, 0, 0

    def watch(self, monkeypatch) -> None:
        real = os.fsync

        def fsync(fd: int) -> None:
            real(fd)
            if os.readlink(f"/proc/self/fd/{fd}") == str(self.path):
                self.fsyncs += 1
                self.size = os.fstat(fd).st_size

        monkeypatch.setattr(os, "fsync", fsync)

    def entries(self) -> list[dict]:
        with open(self.path, "rb") as fh:
            text = fh.read(self.size).decode("utf-8")
        return [json.loads(line) for line in text.splitlines()]


async def test_events_recorded_at_once_share_one_fsync_and_are_durable_on_return(
    tmp_path, monkeypatch
):
    """Three jobs recording in one turn of the loop cost one fsync; each `record` returns with
    its line on disk."""
    durable = Durable(tmp_path / ".wanform" / "journal.jsonl")
    with Journal(tmp_path) as journal:
        durable.watch(monkeypatch)

        async def submitted(job: str, task_id: str) -> None:
            await journal.record("submitted", job, task_id=task_id, request_id="r")
            assert {"job": job, "task_id": task_id} in [
                {"job": e["job"], "task_id": e["task_id"]} for e in durable.entries()
            ]

        await asyncio.gather(*(submitted(j, f"t-{j}") for j in "abc"))
        assert durable.fsyncs == 1
        assert journal.task_ids == {"t-a", "t-b", "t-c"}


@contextlib.asynccontextmanager
async def finished_waiting(tmp_path: Path, monkeypatch):
    """A journal whose "finished" line for job "a" waits for company (for a minute, unless a line
    a request waits on comes); yields the journal, its fsync watch and that line's `record`."""
    monkeypatch.setattr(journal_module, "GROUP_SECONDS", 60.0)
    durable = Durable(tmp_path / ".wanform" / "journal.jsonl")
    with Journal(tmp_path) as journal:
        durable.watch(monkeypatch)
        finished = asyncio.create_task(journal.record("finished", "a", task_id="t1", outputs=[]))
        for _ in range(3):
            await asyncio.sleep(0)  # its write begins, and waits for company
        yield journal, durable, finished


async def test_a_finished_line_waits_for_the_next_intent_and_shares_its_fsync(
    tmp_path, monkeypatch
):
    """A job's end, which no request waits on, is written with the next line one does (here a
    submission's intent) in one fsync; each `record` returns with its line on disk."""
    async with finished_waiting(tmp_path, monkeypatch) as (journal, durable, finished):
        await asyncio.wait_for(journal.record("submitting", "b", at=1.0, timeout=75.0), 30)
        await asyncio.wait_for(finished, 30)
        assert durable.fsyncs == 1
        assert [e["event"] for e in durable.entries()] == ["finished", "submitting"]


async def test_a_finished_line_waiting_for_company_is_written_when_the_run_drains(
    tmp_path, monkeypatch
):
    """At the run's end nothing else comes: draining writes the waiting line at once."""
    async with finished_waiting(tmp_path, monkeypatch) as (journal, durable, finished):
        await asyncio.wait_for(journal.drained(), 30)
        assert finished.done() and [e["job"] for e in durable.entries()] == ["a"]


async def test_each_intent_and_task_id_is_durable_before_the_request_that_depends_on_it(
    project, emulators, monkeypatch
):
    """Ten jobs at once: each submission is sent only once its intent is fsynced, each task is
    polled only once its id is (whether lines happen to share an fsync depends on timing)."""
    emulator = await emulators()
    project.recipe("foxes", SEEDS)
    durable = Durable(project.root / ".wanform" / "journal.jsonl")
    durable.watch(monkeypatch)
    real_submit, real_task = Client.submit, Client.task
    sent = []

    async def submit(self, path, body, headers, synchronous=False):
        intents = [e for e in durable.entries() if e["event"] == "submitting"]
        sent.append(path)
        assert len(intents) >= len(sent), "a submission was sent before its intent was durable"
        return await real_submit(self, path, body, headers, synchronous=synchronous)

    async def task(self, task_id):
        known = {e.get("task_id") for e in durable.entries() if e["event"] == "submitted"}
        assert task_id in known, f"task {task_id} was polled before its id was durable"
        return await real_task(self, task_id)

    monkeypatch.setattr(Client, "submit", submit)
    monkeypatch.setattr(Client, "task", task)
    result = await run(project, emulator)
    assert result.result.exit_code == 0, result.err
    assert len(sent) == 10
    lines = project.journal()
    assert len(lines) == 30 and durable.entries() == lines


async def test_a_bug_while_writing_reaches_the_waiting_job(tmp_path, monkeypatch):
    """An error other than an OSError while writing is raised to the job that recorded the line,
    which is never left waiting."""
    with Journal(tmp_path) as journal:

        def broken(entries: list[dict]) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr(journal, "_append", broken)
        with pytest.raises(RuntimeError, match="a bug"):
            await asyncio.wait_for(journal.record("submitted", "a", task_id="t1"), timeout=30)
        await asyncio.wait_for(journal.drained(), timeout=30)


TWO_IMAGES = """\
model: wan2.7-image
prompt: A red fox in the snow.
n: 2
seed: 1
"""


def watch_steps(monkeypatch) -> list[tuple[str, str]]:
    """Files committed, folders fsynced and jobs recorded finished, in the order they happen."""
    steps: list[tuple[str, str]] = []
    real_commit, real_fsync_dir, real_record = AtomicFile.commit, atomic.fsync_dir, Journal.record

    def commit(self, *args, **kwargs):
        real_commit(self, *args, **kwargs)
        steps.append(("committed", self.path.name))

    def fsync_dir(directory):
        real_fsync_dir(directory)
        steps.append(("folder synced", directory.name))

    async def record(self, event, job, **fields):
        if event == "finished":
            steps.append(("journal", event))
        return await real_record(self, event, job, **fields)

    monkeypatch.setattr(AtomicFile, "commit", commit)
    monkeypatch.setattr(atomic, "fsync_dir", fsync_dir)
    monkeypatch.setattr(results, "fsync_dir", fsync_dir)
    monkeypatch.setattr(Journal, "record", record)
    return steps


async def test_a_jobs_image_names_are_durable_in_one_folder_fsync_before_the_journal_has_them(
    project, emulators, monkeypatch
):
    """The images and sidecar of a job are renamed into its folder, which is fsynced once for
    them all, before the journal records the job finished with its images."""
    emulator = await emulators()
    project.recipe("fox", TWO_IMAGES)
    steps = watch_steps(monkeypatch)
    done = await run(project, emulator)
    assert done.result.exit_code == 0, done.err
    assert sorted(steps[:2]) == [("committed", "fox-1.png"), ("committed", "fox-2.png")]
    # the sidecar's commit syncs the folder (logged before its own commit returns)
    assert steps[2:5] == [
        ("folder synced", "fox"),
        ("committed", "fox.json"),
        ("journal", "finished"),
    ]


async def test_without_a_sidecar_the_image_names_are_still_durable_before_the_journal(
    project, emulators, monkeypatch
):
    """A sidecar that cannot be written leaves the images' folder to be fsynced on its own,
    still before the journal records them."""
    emulator = await emulators()
    project.recipe("fox", TWO_IMAGES)
    steps = watch_steps(monkeypatch)

    def full(path, provenance):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results, "write_sidecar", full)
    await run(project, emulator)
    assert sorted(steps[:2]) == [("committed", "fox-1.png"), ("committed", "fox-2.png")]
    assert steps[2:4] == [("folder synced", "fox"), ("journal", "finished")]
