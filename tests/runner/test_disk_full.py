"""A disk that fills up during a run: the truth told, what was made kept, no temporary file left,
and a rerun that fetches the rest from the same tasks without paying again."""

from __future__ import annotations

import errno
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from runner_kit import KEY, SUBMIT_PATHS

from wanform.emulator import EmulatorConfig
from wanform.emulator.pytest_plugin import AdminClient, EmulatorThread
from wanform.runner.cli import main
from wanform.runner.engine import journal
from wanform.runner.engine import run as engine_run
from wanform.runner.files import atomic
from wanform.runner.gitops import project as gitops_project

FOX = """\
model: wan2.5-i2i-preview
prompt: A red fox in the snow.
inputs:
  - path: images/portrait.png
n: 2
matrix:
  seed: [1, 2, 3]
"""
OWL = """\
model: wan2.5-i2i-preview
prompt: An owl at night.
inputs:
  - path: images/portrait.png
n: 2
"""


SPEED = 100.0  # the emulator's clock, told to the runner so that it polls on it


@pytest.fixture
def emulator() -> Iterator[tuple[str, AdminClient]]:
    server = EmulatorThread(EmulatorConfig(host="127.0.0.1", port=0, speed=SPEED))
    base_url = server.start()
    yield base_url, AdminClient(server.root_url)
    server.stop()


class FullDisk(io.FileIO):
    """A file on a disk that fills up once `Disk.full` is set: every write then fails ENOSPC."""

    disk: Disk

    def write(self, data) -> int:  # type: ignore[override]
        if self.disk.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


class Disk:
    """The output folder's disk: it fills at the first write of a file whose name starts with
    `trigger`, after that file's first `room` bytes, and stays full."""

    def __init__(self, out: Path, trigger: str, room: int = 1000) -> None:
        self.out, self.trigger, self.room, self.full = out.resolve(), trigger, room, False

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_init = atomic.AtomicFile.__init__
        disk = self

        def init(atomic: atomic.AtomicFile, path: Path) -> None:
            real_init(atomic, path)
            if not Path(path).resolve().is_relative_to(disk.out):
                return
            fd = os.dup(atomic.file.fileno())
            atomic.file.close()
            raw = FullDisk(fd, "r+")
            raw.disk = disk
            if Path(path).name.startswith(disk.trigger):
                raw.write = disk.filling(raw)  # type: ignore[method-assign]
            atomic.file = io.BufferedRandom(raw)

        monkeypatch.setattr(atomic.AtomicFile, "__init__", init)

    def filling(self, raw: FullDisk):
        def write(data) -> int:
            if not self.full and len(data) > self.room:
                self.full = True
                return FullDisk.write(raw, bytes(data)[: self.room])
            return FullDisk.write(raw, data)

        return write


class OneFileFull(Disk):
    """Writes to the files named `trigger...` fail ENOSPC; the others (the sidecar) go through."""

    def filling(self, raw: FullDisk):
        def write(data) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return write


def run(root: Path, base_url: str, *args: str):
    env = {"DASHSCOPE_API_KEY": KEY, "DASHSCOPE_HTTP_BASE_URL": None}
    os.chdir(root)
    return CliRunner().invoke(
        main,
        ["run", "--target", base_url, "--emulator-speed", str(SPEED), "-o", "json", *args, "."],
        env=env,
        catch_exceptions=False,
    )


def submissions(admin: AdminClient) -> int:
    return sum(1 for e in admin.requests() if e["path"] in SUBMIT_PATHS)


def temporaries(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.part"))


def test_a_full_disk_keeps_what_was_made_and_the_rerun_fetches_the_rest(
    project, emulator, monkeypatch
):
    """The owl job's first image fills the disk: exit 3 (some jobs failed), the report says the
    task SUCCEEDED and is billed and names ENOSPC and the file; jobs written before stay in the
    lock; no `.part` is left; the rerun submits nothing and fetches every missing file."""
    base_url, admin = emulator
    root = project.root
    monkeypatch.chdir(root)
    project.recipe("fox", FOX)
    project.recipe("owl", OWL)
    # the owl's images come late, so the fox jobs are written before the disk fills
    admin.add_fault(
        {"action": "latency", "prompt": "owl", "endpoint": "result", "seconds": 300, "times": 2}
    )
    disk = Disk(root / "out", trigger="owl")
    disk.install(monkeypatch)

    first = run(root, base_url)
    assert disk.full
    assert first.exit_code == 3, first.output
    report = json.loads(first.stdout)
    states = {j["job"]: j for j in report["jobs"]}
    assert {name: j["status"] for name, j in states.items() if name != "owl"} == {
        f"fox[seed={s}]": "succeeded" for s in (1, 2, 3)
    }, first.stdout
    owl = states["owl"]
    assert owl["status"] == "failed" and owl["images"] == []
    said = owl["error"]["message"] + " " + owl["error"]["hint"]
    assert "SUCCEEDED" in said and "billed" in said
    assert "No space left on device (ENOSPC)" in said and "out/owl/owl" in said
    assert "without paying again" in said
    assert "not billed" not in first.output
    assert temporaries(root) == []
    lock = json.loads((root / "wanform.lock").read_text())["jobs"]
    assert sorted(lock) == [f"fox.yaml::fox[seed={s}]" for s in (1, 2, 3)]
    assert all(entry["state"] == "complete" for entry in lock.values())
    sent = submissions(admin)
    assert sent == 4

    monkeypatch.undo()  # space freed
    monkeypatch.chdir(root)
    second = run(root, base_url)
    assert second.exit_code == 0, second.output
    assert submissions(admin) == sent
    owl_again = next(j for j in json.loads(second.stdout)["jobs"] if j["job"] == "owl")
    assert owl_again["status"] == "succeeded" and len(owl_again["images"]) == 2
    assert owl_again["resumed"] is True
    assert sorted(p.name for p in (root / "out" / "owl").iterdir()) == [
        "owl-1.png",
        "owl-2.png",
        "owl.json",
    ]
    assert temporaries(root) == []


def test_an_image_not_written_makes_the_job_incomplete_and_the_rerun_fetches_it(
    project, emulator, monkeypatch
):
    """Image 2 cannot be written, the sidecar can: the job is partial with OutputNotWritten,
    `plan` calls it incomplete (a rerun fetches the image from the same task: billable at most,
    none expected), and the rerun completes it without submitting anything."""
    base_url, _ = emulator
    root = project.root
    monkeypatch.chdir(root)
    project.recipe("owl", OWL)
    OneFileFull(root / "out", trigger="owl-2").install(monkeypatch)

    first = run(root, base_url)
    assert first.exit_code == 3, first.output
    job = json.loads(first.stdout)["jobs"][0]
    assert (job["status"], job["state"], job["rerun"]) == ("partial", "partial", "refetch")
    assert [(f["index"], f["code"]) for f in job["failed_images"]] == [(2, "OutputNotWritten")]
    assert any("SUCCEEDED and is billed" in n for n in job["notices"])
    assert temporaries(root) == []
    plan = CliRunner().invoke(main, ["plan", "--detailed-exitcode", "--target", base_url, "."])
    assert plan.exit_code == 2
    assert "~ incomplete owl.yaml::owl (wan2.5-i2i-preview, 2 images): image 2 failed: " in (
        plan.stdout
    )
    assert f"a rerun fetches them again from task {job['task_id']}" in plan.stdout
    assert "2 billable images at most, about 0.40 CNY (0 expected)" in plan.stdout

    monkeypatch.undo()
    monkeypatch.chdir(root)
    second = run(root, base_url)
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)["jobs"][0]
    assert (again["task_id"], again["resumed"], len(again["images"])) == (job["task_id"], True, 2)
    assert json.loads((root / "wanform.lock").read_text())["jobs"]["owl.yaml::owl"]["state"] == (
        "complete"
    )


class FullJournal:
    """The journal's file on a full disk: every write fails ENOSPC."""

    def __init__(self, file) -> None:
        self.file = file

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str):
        return getattr(self.file, name)


def test_a_journal_that_cannot_be_written_stops_the_run_before_anything_is_sent(
    project, emulator, monkeypatch
):
    """No task may be paid for without its journal line: the run stops (exit 4) naming the
    journal and ENOSPC, with no traceback, and sends no submission."""
    base_url, admin = emulator
    root = project.root
    monkeypatch.chdir(root)
    project.recipe("fox", FOX)
    real_open = journal.Journal.open

    def full_open(self: journal.Journal) -> journal.Journal:
        opened = real_open(self)
        self._file = FullJournal(self._file)  # type: ignore[assignment]
        return opened

    monkeypatch.setattr(journal.Journal, "open", full_open)
    result = run(root, base_url)
    assert result.exit_code == 4, result.output
    stopped = json.loads(result.stdout)["stopped"]
    assert stopped["code"] == "JournalNotWritten"
    assert "journal.jsonl: No space left on device (ENOSPC)" in stopped["message"]
    assert "cannot start the run" not in result.output
    assert submissions(admin) == 0


def test_a_sidecar_not_written_fails_the_job_truthfully_and_the_rerun_writes_it(
    project, emulator, monkeypatch
):
    """Both images are written, the sidecar is not: the job failed (it has no provenance) saying
    its task SUCCEEDED and is billed; the rerun fetches from the same task and writes it."""
    base_url, admin = emulator
    root = project.root
    monkeypatch.chdir(root)
    project.recipe("owl", OWL)
    OneFileFull(root / "out", trigger="owl.json").install(monkeypatch)

    first = run(root, base_url)
    assert first.exit_code == 3, first.output
    job = json.loads(first.stdout)["jobs"][0]
    assert (job["status"], len(job["images"])) == ("failed", 2)
    assert (
        "SUCCEEDED and is billed, but its sidecar could not be written" in job["error"]["message"]
    )
    assert "out/owl/owl.json: No space left on device (ENOSPC)" in job["error"]["message"]
    assert temporaries(root) == []
    sent = submissions(admin)

    monkeypatch.undo()
    monkeypatch.chdir(root)
    second = run(root, base_url)
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)["jobs"][0]
    assert (again["task_id"], again["resumed"]) == (job["task_id"], True)
    assert submissions(admin) == sent and (root / "out" / "owl" / "owl.json").is_file()


SIZED = """\
model: wan2.7-image
prompt: A red fox in the snow.
size: '1024*1024'
n: 1
matrix:
  seed: [1, 2, 3, 4, 5]
"""


def test_a_disk_that_fills_after_tasks_were_billed_stops_the_run_naming_them(
    project, emulator, monkeypatch
):
    """The disk fills under the first image while the other tasks run: the run stops (exit 4),
    names every task billed and not kept, and says a rerun fetches them without paying again;
    after room is made the rerun submits nothing and keeps every image."""
    base_url, admin = emulator
    root = project.root
    monkeypatch.chdir(root)
    project.recipe("fox", SIZED)
    # one task finishes first; the others are still running when the disk fills under it
    admin.add_fault({"action": "latency", "endpoint": "result", "seconds": 300, "nth": 1})
    disk = Disk(root / "out", trigger="", room=100)
    disk.install(monkeypatch)
    real_open = journal.Journal.open

    def filling_open(self: journal.Journal) -> journal.Journal:
        """The journal on the same disk: a line it cannot take stays in its buffer, as it does."""
        opened = real_open(self)
        assert self._file is not None
        raw = FullDisk(os.dup(self._file.fileno()), "w")
        raw.disk = disk
        self._file.close()
        self._file = io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8")
        return opened

    monkeypatch.setattr(journal.Journal, "open", filling_open)

    first = run(root, base_url, "-o", "text")
    assert first.exit_code == 4, first.output
    made = {e["task_id"] for e in admin.requests() if e["path"] in SUBMIT_PATHS}
    assert len(made) == submissions(admin) == 5
    stop, billed = first.stdout.splitlines()[-3:-1]
    assert stop.startswith("stopped: JournalNotWritten: cannot write .wanform/journal.jsonl: No ")
    assert billed.startswith("billed: task(s) ") and billed.endswith(
        " are billed (or will be when they finish) and their images are not all kept: a rerun "
        "fetches them without paying again"
    )
    assert sorted(billed[16:].partition(" are billed")[0].split(", ")) == sorted(made)
    assert temporaries(root) == []

    monkeypatch.undo()  # room made
    monkeypatch.chdir(root)
    second = run(root, base_url)
    assert second.exit_code == 0, second.output
    assert submissions(admin) == 5
    jobs = json.loads(second.stdout)["jobs"]
    assert sorted(j["task_id"] for j in jobs) == sorted(made)
    assert all(len(j["images"]) == 1 for j in jobs)


def test_an_os_error_no_step_expected_stops_the_run_and_names_the_file(
    project, emulator, monkeypatch
):
    """An OS error in a job's step that no step maps (an input that cannot be read) stops the
    run with exit 4 naming the file and the error: not "cannot start the run", exit 1."""
    base_url, _ = emulator
    root = project.root
    monkeypatch.chdir(root)
    project.recipe("fox", FOX)
    real_load = engine_run.load_sources
    calls = []

    def failing_load(*args):
        calls.append(args)
        if len(calls) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO), "images/portrait.png")
        return real_load(*args)

    monkeypatch.setattr(engine_run, "load_sources", failing_load)
    result = run(root, base_url)
    assert result.exit_code == 4, result.output
    stopped = json.loads(result.stdout)["stopped"]
    assert (stopped["code"], stopped["message"]) == (
        "DiskError",
        "images/portrait.png: Input/output error (EIO)",
    )
    assert "cannot start the run" not in result.output


def test_a_task_whose_id_the_journal_cannot_take_is_named_as_billed(project, emulator, monkeypatch):
    """The journal fills just as a submission is answered: the run stops (exit 4) and names that
    task, made and billed though not journaled."""
    base_url, admin = emulator
    root = project.root
    monkeypatch.chdir(root)
    project.recipe("owl", OWL)
    real_record = journal.Journal.record

    async def full_at_submitted(
        self: journal.Journal, event: str, job: str, **fields: object
    ) -> None:
        if event == "submitted":
            raise journal.JournalError(f"cannot write {self.path}: No space left on device")
        await real_record(self, event, job, **fields)

    monkeypatch.setattr(journal.Journal, "record", full_at_submitted)
    result = run(root, base_url)
    assert result.exit_code == 4, result.output
    made = [e["task_id"] for e in admin.requests() if e["path"] in SUBMIT_PATHS]
    assert json.loads(result.stdout)["stopped"]["billed_tasks"] == made and len(made) == 1


def test_a_lock_that_cannot_be_written_after_the_jobs_exits_4(project, emulator, monkeypatch):
    """The jobs ran (their tasks are billed) and the lock cannot be written: exit 4, not the 1 of
    "nothing was sent", saying a rerun records them without submitting them again."""
    base_url, _ = emulator
    root = project.root
    monkeypatch.chdir(root)
    project.recipe("owl", OWL)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "wanform.lock")

    monkeypatch.setattr(gitops_project.Project, "record", full)
    result = run(root, base_url)
    assert result.exit_code == 4, result.output
    assert "error: cannot write wanform.lock: No space left on device" in result.stderr
    assert "a rerun records them without submitting them again" in result.stderr
