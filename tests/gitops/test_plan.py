"""Plans against a lock: new, changed (and why), unchanged, orphaned, and outputs drifting on
disk."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from wanform.runner.app.results import RunOutcome
from wanform.runner.engine.states import RunResult
from wanform.runner.gitops.fingerprint import Fingerprint, HashCache
from wanform.runner.gitops.lockfile import LockFile, LockFileError, merge
from wanform.runner.gitops.plan import Plan, PlannedJob, lock_entry, make_plan
from wanform.runner.recipes.check import validate_paths
from wanform.runner.recipes.graph import shard_chains
from wanform.runner.reports.plan import as_json

RECIPE = """model: wan2.7-image
prompt: Put a hat on the cat.
n: 2
seed: 7
inputs:
  - path: images/cat.png
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "recipes" / "images").mkdir(parents=True)
    Image.new("RGB", (320, 240), "orange").save(tmp_path / "recipes" / "images" / "cat.png")
    (tmp_path / "recipes" / "cat.yaml").write_text(RECIPE)
    (tmp_path / "recipes" / "dog.yaml").write_text(
        RECIPE.replace("cat", "dog").replace("images/dog.png", "images/cat.png")
    )
    return tmp_path


def plan_of(root: Path):
    result = validate_paths([str(root / "recipes")], root=root)
    assert result.report.ok(), [f.as_dict() for f in result.report.findings]
    lock = LockFile.load(root / "wanform.lock")
    return make_plan(result.jobs, lock, root, HashCache(root), target="emulator")


def record_all(root: Path) -> None:
    """Pretend every pending job ran and made one output file; write the lock as a run would."""
    lock = LockFile.load(root / "wanform.lock")
    for job in plan_of(root).pending():
        out = root / "out" / (job.key.replace("/", "_").replace("::", "-") + ".png")
        out.parent.mkdir(exist_ok=True)
        out.write_bytes(job.key.encode())
        outputs = [
            {
                "path": out.relative_to(root).as_posix(),
                "sha256": HashCache(root).file(out),
                "width": 1,
                "height": 1,
            }
        ]
        lock.jobs[job.key] = lock_entry(
            job,
            target="emulator",
            task_id="t",
            request_id="r",
            finished="2026-11-25T00:00:00Z",
            outputs=outputs,
            failures=[],
        )
    lock.save()


def statuses(plan) -> dict[str, tuple[str, list[str]]]:
    return {job.key: (job.status, job.reasons) for job in plan.jobs}


def test_fresh_project_is_all_new(project: Path) -> None:
    """Without a lock every job is new, and the bill counts n images per job."""
    plan = plan_of(project)
    assert statuses(plan) == {
        "recipes/cat.yaml::cat": ("new", []),
        "recipes/dog.yaml::dog": ("new", []),
    }
    assert plan.totals() == {
        "wan2.7-image": {
            "images": 4,
            "cost_cny": 0.8,
            "expected_images": 4,
            "expected_cost_cny": 0.8,
        }
    }


def test_after_a_run_everything_is_unchanged(project: Path) -> None:
    """Once recorded, nothing is pending."""
    record_all(project)
    assert [job.status for job in plan_of(project).jobs] == ["unchanged", "unchanged"]


def test_editing_one_recipe_changes_exactly_that_job_and_says_why(project: Path) -> None:
    """A new seed in one recipe makes that job changed, naming the field."""
    record_all(project)
    path = project / "recipes" / "cat.yaml"
    path.write_text(path.read_text().replace("seed: 7", "seed: 8"))
    assert statuses(plan_of(project)) == {
        "recipes/cat.yaml::cat": ("changed", ["seed"]),
        "recipes/dog.yaml::dog": ("unchanged", []),
    }


def test_changing_image_bytes_changes_the_jobs_using_it(project: Path) -> None:
    """One byte of an input image changes every job that reads it, naming the input."""
    record_all(project)
    Image.new("RGB", (320, 240), "black").save(project / "recipes" / "images" / "cat.png")
    assert {k: v for k, v in statuses(plan_of(project)).items()} == {
        "recipes/cat.yaml::cat": ("changed", ["inputs[0].image"]),
        "recipes/dog.yaml::dog": ("changed", ["inputs[0].image"]),
    }


def test_renaming_an_image_changes_nothing(project: Path) -> None:
    """The fingerprint follows image bytes, not file names."""
    record_all(project)
    images = project / "recipes" / "images"
    shutil.move(images / "cat.png", images / "kitten.png")
    for name in ("cat.yaml", "dog.yaml"):
        path = project / "recipes" / name
        path.write_text(path.read_text().replace("images/cat.png", "images/kitten.png"))
    assert [job.status for job in plan_of(project).jobs] == ["unchanged", "unchanged"]


def test_deleted_recipe_leaves_an_orphan(project: Path) -> None:
    """A lock entry no recipe declares any more is orphaned."""
    record_all(project)
    (project / "recipes" / "dog.yaml").unlink()
    assert statuses(plan_of(project)) == {
        "recipes/cat.yaml::cat": ("unchanged", []),
        "recipes/dog.yaml::dog": ("orphaned", []),
    }


def test_missing_and_modified_outputs_are_pending(project: Path) -> None:
    """Outputs gone or edited on disk make their job pending again, saying which file."""
    record_all(project)
    lock = json.loads((project / "wanform.lock").read_text())["jobs"]
    cat, dog = (
        lock[k]["outputs"][0]["path"] for k in ("recipes/cat.yaml::cat", "recipes/dog.yaml::dog")
    )
    (project / cat).unlink()
    (project / dog).write_bytes(b"edited")
    assert statuses(plan_of(project)) == {
        "recipes/cat.yaml::cat": ("changed", [f"output missing: {cat}"]),
        "recipes/dog.yaml::dog": ("changed", [f"output modified: {dog}"]),
    }


def test_saving_twice_is_byte_identical(project: Path) -> None:
    """The lock is stable: loading and saving it changes no byte."""
    record_all(project)
    before = (project / "wanform.lock").read_bytes()
    LockFile.load(project / "wanform.lock").save()
    assert (project / "wanform.lock").read_bytes() == before


def test_shards_cover_every_job_exactly_once(project: Path) -> None:
    """Shards 1/3, 2/3 and 3/3 together hold every job once, and differ in size by at most one."""
    for i in range(5):
        (project / "recipes" / f"extra{i}.yaml").write_text(RECIPE.replace("seed: 7", f"seed: {i}"))
    jobs = plan_of(project).pending()
    slices = [
        [j for j in jobs if j.key in shard_chains([j.key for j in jobs], {}, k, 3)]
        for k in (1, 2, 3)
    ]
    keys = [job.key for part in slices for job in part]
    assert sorted(keys) == sorted(job.key for job in jobs) and len(keys) == len(set(keys))
    assert max(map(len, slices)) - min(map(len, slices)) <= 1


def test_shard_locks_merge_without_conflict(tmp_path: Path) -> None:
    """Entries from different shards union cleanly; one job with two different entries is
    refused."""
    a, b = (
        LockFile(tmp_path / "a", {"x::1": {"n": 1}}),
        LockFile(tmp_path / "b", {"y::2": {"n": 2}, "x::1": {"n": 1}}),
    )
    assert merge([a, b], tmp_path / "m").jobs == {"x::1": {"n": 1}, "y::2": {"n": 2}}
    with pytest.raises(LockFileError, match="x::1"):
        merge([a, LockFile(tmp_path / "c", {"x::1": {"n": 3}})], tmp_path / "m")


def test_locks_changed_from_a_base_merge_job_by_job(tmp_path: Path) -> None:
    """With a base, each job comes from the lock that changed it (added, rerun or pruned); the
    jobs neither changed stay as the base has them."""
    base = LockFile(tmp_path / "o", {"a::1": {"n": 1}, "b::2": {"n": 2}, "c::3": {"n": 3}})
    ours = LockFile(tmp_path / "a", {**base.jobs, "a::1": {"n": 10}, "d::4": {"n": 4}})
    theirs = LockFile(tmp_path / "b", {"a::1": {"n": 1}, "c::3": {"n": 3}, "e::5": {"n": 5}})
    assert merge([ours, theirs], tmp_path / "m", base).jobs == {
        "a::1": {"n": 10},
        "c::3": {"n": 3},
        "d::4": {"n": 4},
        "e::5": {"n": 5},
    }


def test_two_locks_changing_one_job_differently_since_the_base_conflict(tmp_path: Path) -> None:
    """The same change on both sides merges; two different ones are refused, naming the job."""
    base = LockFile(tmp_path / "o", {"a::1": {"n": 1}})
    same = [LockFile(tmp_path / name, {"a::1": {"n": 2}}) for name in ("a", "b")]
    assert merge(same, tmp_path / "m", base).jobs == {"a::1": {"n": 2}}
    pruned = LockFile(tmp_path / "c", {})
    with pytest.raises(LockFileError, match="c: job a::1 differs"):
        merge([same[0], pruned], tmp_path / "m", base)


def test_conflict_markers_in_the_lock_are_a_clear_error(tmp_path: Path) -> None:
    """A lock left with merge-conflict markers names the line instead of raising a raw JSON
    error."""
    (tmp_path / "wanform.lock").write_text("{\n<<<<<<< HEAD\n}\n")
    with pytest.raises(LockFileError, match=r"wanform.lock:2:1: the lock file is not valid JSON"):
        LockFile.load(tmp_path / "wanform.lock")


@pytest.mark.parametrize(
    "content",
    [
        b'{"version": 1, "jobs": {}, "n": ' + b"9" * 5000 + b"}",
        b'{"version": 1, "jobs": {"\xff": 1}}',
    ],
    ids=["number-too-long", "not-utf8"],
)
def test_a_lock_json_cannot_read_is_a_lock_error(tmp_path: Path, content: bytes) -> None:
    """A lock that fails to parse without a line and column is still a LockFileError naming it."""
    (tmp_path / "wanform.lock").write_bytes(content)
    with pytest.raises(LockFileError, match=r"wanform.lock: the lock file is not valid JSON"):
        LockFile.load(tmp_path / "wanform.lock")


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ([1], "job a::1 is not an object"),
        ({"outputs": "out/a-0.png"}, "job a::1: outputs is not a list"),
        ({"outputs": [{"sha256": "sha256:00"}]}, r"job a::1: outputs\[0\] has no path"),
        ({"outputs": [{"path": 7}]}, r"job a::1: outputs\[0\]: path is not a string"),
        ({"failures": [{"index": 0, "code": "X"}]}, r"job a::1: failures\[0\] has no message"),
        ({"n": True}, "job a::1: n is not a number"),
        ({"task_id": 5}, "job a::1: task_id is not a string or null"),
    ],
)
def test_a_damaged_lock_entry_is_a_lock_error_naming_it(tmp_path: Path, entry, named) -> None:
    """An entry not of the lock's shape is refused on reading, naming the job and the field,
    rather than failing later in whatever code reads it."""
    (tmp_path / "wanform.lock").write_text(json.dumps({"version": 1, "jobs": {"a::1": entry}}))
    with pytest.raises(LockFileError, match=f"wanform.lock: {named}"):
        LockFile.load(tmp_path / "wanform.lock")


def test_plan_against_a_damaged_lock_entry_names_it_without_a_traceback(project: Path) -> None:
    """`wanform plan` with an entry of the wrong shape exits 1 with the reason, no traceback."""
    lock = {"version": 1, "jobs": {"recipes/cat.yaml::cat": {"outputs": [{"path": 1}]}}}
    (project / "wanform.lock").write_text(json.dumps(lock))
    done = subprocess.run(
        [sys.executable, "-m", "wanform.runner.cli", "plan", "--target", "emulator"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "job recipes/cat.yaml::cat: outputs[0]: path is not a string" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_json_plan_lists_one_job_a_line() -> None:
    """`plan -o json` writes each job on a line of its own, as `json.dumps` with sorted keys
    writes it, whatever its strings hold."""
    tricky = 'x}, {"key": "y"}\n\\ é ✓ \u2028'
    jobs = [
        PlannedJob("a.yaml::a", "new", "wan2.7-image", 1, 1, reasons=[tricky, "b"]),
        PlannedJob(f"{tricky}.yaml::b", "unchanged", "wan2.7-image", 2, 2),
        PlannedJob("c.yaml::c", "orphaned", ""),
    ]
    jobs[1].fingerprint = Fingerprint("sha256:" + "0" * 64, {})
    out = io.StringIO()
    as_json(Plan(jobs), out)
    lines = out.getvalue().splitlines()
    assert lines[1] == '  "jobs": [' and lines[5] == "  ],"
    listed = json.loads(out.getvalue())["jobs"]
    assert [line.strip().rstrip(",") for line in lines[2:5]] == [
        json.dumps(job, sort_keys=True) for job in listed
    ]
    assert listed[0]["reasons"] == [tricky, "b"] and listed[1]["key"] == jobs[1].key
    assert [(j["images"], j["fingerprint"]) for j in listed] == [
        (1, None),
        (0, "sha256:" + "0" * 64),
        (0, None),
    ]


def test_a_runs_plan_is_never_spelled_out_job_by_job(monkeypatch) -> None:
    """asyncio.run builds the repr of its main task's result, a run's outcome with its plan: at
    10,000 jobs a plan spelled out job by job was a run's peak memory."""
    spelled: list[PlannedJob] = []
    monkeypatch.setattr(PlannedJob, "__repr__", lambda job: spelled.append(job) or "job")
    plan = Plan([PlannedJob(f"r.yaml::{i}", "new", "wan2.7-image", 1, 1) for i in range(300)])
    outcome = RunOutcome(RunResult("emulator", []), plan)

    async def run() -> RunOutcome:
        return outcome

    assert asyncio.run(run()) is outcome
    assert spelled == []
    assert repr(plan) == "<Plan: 300 jobs, 300 pending>"
