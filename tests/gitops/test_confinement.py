"""Paths read from the lock and the journal stay inside the project and the output folder: nothing
outside is read, and --prune deletes nothing when one leads out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runner_kit import make_project, run_cli

from wanform.runner.engine.journal import Journal
from wanform.runner.engine.launch import check_journal
from wanform.runner.files.areas import OutsideError
from wanform.runner.gitops.fingerprint import HashCache
from wanform.runner.gitops.lockfile import LockFile, LockFileError
from wanform.runner.gitops.plan import Plan, PlannedJob
from wanform.runner.gitops.project import Project, prune

FOX = "model: wan2.7-image\nprompt: A red fox.\nn: 1\ninputs:\n  - path: images/portrait.png\n"


def orphan_lock(root: Path, victim: Path) -> Path:
    """A lock whose orphaned entry records a file beside the project and an absolute sidecar."""
    lock = root / "wanform.lock"
    entry = {"recipe": "gone.yaml", "outputs": [{"path": "../victim.txt"}], "sidecar": str(victim)}
    lock.write_text(json.dumps({"version": 1, "jobs": {"gone.yaml::gone": entry}}))
    return lock


@pytest.fixture
def victims(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A project in tmp_path/project, and two files outside it that must survive."""
    root = tmp_path / "project"
    root.mkdir()
    beside = tmp_path / "victim.txt"
    beside.write_text("keep")
    elsewhere = tmp_path / "elsewhere" / "victim.json"
    elsewhere.parent.mkdir()
    elsewhere.write_text("keep")
    return root, beside, elsewhere


def test_prune_keeps_what_an_orphan_records_outside(victims):
    """An orphan recording `../victim.txt` and an absolute sidecar deletes neither: both are
    listed as kept, and the entry leaves the lock."""
    root, beside, elsewhere = victims
    lock = LockFile.load(orphan_lock(root, elsewhere))
    plan = Plan([PlannedJob("gone.yaml::gone", "orphaned", "")])
    pruned = prune(lock, plan, root, root / "out")
    assert pruned.removed == []
    assert pruned.kept == [
        ("../victim.txt", "not in the output folder"),
        (str(elsewhere), "not in the output folder"),
    ]
    assert beside.read_text() == elsewhere.read_text() == "keep"
    assert "gone.yaml::gone" not in lock.jobs


def test_opening_the_project_refuses_a_lock_that_leads_out(victims):
    """The run's project refuses the lock at once, naming the entry and the path."""
    root, _, elsewhere = victims
    (root / "wanform.lock").write_text(
        json.dumps({"version": 1, "jobs": {"a.yaml::a": {"sidecar": str(elsewhere)}}})
    )
    with pytest.raises(LockFileError, match=f"job a.yaml::a records '{elsewhere}', which is out"):
        Project.open(root, root / "wanform.lock", root / "out")


def test_a_lock_path_in_the_output_folder_is_accepted(victims):
    """An output folder outside the root is an area the lock may point into."""
    root, _, elsewhere = victims
    (root / "wanform.lock").write_text(
        json.dumps({"version": 1, "jobs": {"a.yaml::a": {"sidecar": "../elsewhere/victim.json"}}})
    )
    project = Project.open(root, root / "wanform.lock", elsewhere.parent)
    assert project.areas == (root, elsewhere.parent)


def test_plan_reports_an_output_outside_without_reading_it(victims, monkeypatch):
    """The drift check names an outside output instead of hashing it."""
    from wanform.runner.gitops import plan as plan_module

    root, beside, _ = victims
    read: list[Path] = []
    monkeypatch.setattr(HashCache, "file", lambda self, path: read.append(path) or "")
    entry = {"outputs": [{"path": "../victim.txt", "sha256": "sha256:0"}]}
    drift = plan_module._output_drift(entry, root, HashCache(root), (root,))
    assert drift == ["output outside the project and the output folder: ../victim.txt"]
    assert read == []


def test_a_journal_file_outside_is_refused(victims):
    """A journal entry whose output file is outside the project and the output folder is refused."""
    root, beside, _ = victims
    with Journal(root) as journal:
        journal.write("submitted", "job1", task_id="t1", request_id="r")
        journal.write(
            "finished",
            "job1",
            task_id="t1",
            status="SUCCEEDED",
            outputs=[{"index": 0, "file": str(beside), "sha256": "0", "bytes": 4}],
        )
    # as a run reads it at its start
    with Journal(root) as again, pytest.raises(OutsideError, match=f"job job1 records '{beside}'"):
        check_journal(again, (root, root / "out"))


async def test_run_prune_refuses_in_one_line_and_deletes_nothing(victims, emulator):
    """`wanform run --prune` with such a lock exits 1 with one line, and both files stay."""
    root, beside, elsewhere = victims
    make_project(root).recipe("fox", FOX)
    orphan_lock(root, elsewhere)
    code, _, err = await run_cli(root, "run", "--prune", *emulator.run_target, ".")
    assert (code, err.count("\n")) == (1, 1), err
    assert "job gone.yaml::gone records '../victim.txt'" in err
    assert beside.read_text() == elsewhere.read_text() == "keep"
