"""The target a job was made on is part of its identity: images made on the emulator are never
taken as DashScope's, nor one emulator's as another's, nor one DashScope region's as another's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runner_kit import SUBMIT_PATHS, run_cli, start_emulator

from wanform.runner.exits import CHANGES_PENDING, Exit
from wanform.runner.gitops.fingerprint import HashCache
from wanform.runner.gitops.lockfile import LockFile
from wanform.runner.gitops.plan import make_plan
from wanform.runner.recipes.check import validate_paths

FOX = """\
model: wan2.7-image
prompt: A red fox in the snow.
n: 1
size: 1K
matrix:
  seed: [1, 2]
"""


def changed_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("~")]


async def submissions(emulator) -> int:
    return sum(1 for e in await emulator.requests() if e["path"] in SUBMIT_PATHS)


async def test_images_made_on_the_emulator_are_not_dashscopes(project):
    """After a run on the embedded emulator, `plan` with a key set (nothing sent: the base URL
    leads nowhere) says every job changed with the target as the reason; a run on a second
    emulator runs them again, and plan on that target then says unchanged."""
    root = project.root
    (root / "fox.yaml").write_text(FOX)
    code, _, err = await run_cli(
        root, "run", "--target", "emulator", "--emulator-speed", "200", "."
    )
    assert code == Exit.OK, err
    lock = json.loads((root / "wanform.lock").read_text())["jobs"]
    assert {entry["target"] for entry in lock.values()} == {"emulator"}
    assert (await run_cli(root, "plan", "--detailed-exitcode", "--target", "emulator", "."))[
        0
    ] == Exit.OK
    code, out, err = await run_cli(root, "plan", "--detailed-exitcode", ".")
    assert code == CHANGES_PENDING, err
    assert changed_lines(out) == [
        f"~ changed   fox.yaml::fox[seed={seed}] (wan2.7-image, 1 image): "
        "target: emulator -> dashscope:cn-beijing"
        for seed in (1, 2)
    ]
    second = await start_emulator(speed=200.0)
    try:
        code, out, _ = await run_cli(root, "plan", "--target", second.base_url, ".")
        assert f"target: emulator -> {second.base_url}" in out
        code, _, err = await run_cli(root, "run", *second.run_target, ".")
        assert code == Exit.OK, err
        assert await submissions(second) == 2
        code, _, _ = await run_cli(
            root, "plan", "--detailed-exitcode", "--target", second.base_url, "."
        )
        assert code == Exit.OK
    finally:
        await second.runner.cleanup()
    keys = set(json.loads((root / "wanform.lock").read_text())["jobs"])
    assert keys == set(lock)  # the same jobs, changed in place: none orphaned, none new


@pytest.mark.parametrize(
    ("recorded", "target", "reasons"),
    [
        ("emulator", "emulator", []),
        ("dashscope:cn-beijing", "dashscope:cn-beijing", []),
        ("dashscope", "dashscope:ap-southeast-1", []),  # written before regions were recorded
        (
            "dashscope:cn-beijing",
            "dashscope:ap-southeast-1",
            ["target: dashscope:cn-beijing -> dashscope:ap-southeast-1"],
        ),
        (
            "emulator",
            "http://127.0.0.1:8000/api/v1",
            ["target: emulator -> http://127.0.0.1:8000/api/v1"],
        ),
        ("url", "http://127.0.0.1:8000/api/v1", ["target: url -> http://127.0.0.1:8000/api/v1"]),
    ],
)
def test_the_plan_compares_the_target_an_entry_was_made_on(
    project, recorded: str, target: str, reasons: list[str]
) -> None:
    """A region or URL other than the entry's is a change, said as `target: OLD -> NEW`; an entry
    from before regions were recorded counts as made on the region a run uses."""
    root: Path = project.root
    (root / "fox.yaml").write_text(FOX.replace("matrix:\n  seed: [1, 2]\n", "seed: 1\n"))
    jobs = validate_paths([str(root / "fox.yaml")], root=root).jobs
    lock = LockFile(root / "wanform.lock")
    made = make_plan(jobs, lock, root, HashCache(root), target=recorded)
    lock.jobs["fox.yaml::fox"] = {
        "fingerprint": made.jobs[0].fingerprint.digest,
        "target": recorded,
    }
    job = make_plan(jobs, lock, root, HashCache(root), target=target).jobs[0]
    assert (job.status, job.reasons) == ("changed" if reasons else "unchanged", reasons)
