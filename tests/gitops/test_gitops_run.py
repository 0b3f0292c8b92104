"""`wanform run` and `wanform plan` as a team's CI uses them: processes against an emulator, a lock
in git."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image
from runner_kit import SUBMIT_PATHS, run_cli

from wanform.runner.engine.guard import run_guard

FOX = """\
model: wan2.7-image
prompt: A red fox in the snow.
n: 1
inputs:
  - path: images/portrait.png
matrix:
  seed: [1, 2, 3]
"""
CAR = """\
model: wanx2.1-imageedit
function: colorization
prompt: Colour the photo.
n: 2
inputs:
  - path: images/grayscale-leaves.jpg
"""


def write_recipes(root: Path) -> None:
    (root / "fox.yaml").write_text(FOX)
    (root / "car.yaml").write_text(CAR)


async def submissions(emulator) -> int:
    return sum(1 for e in await emulator.requests() if e["path"] in SUBMIT_PATHS)


async def test_a_change_runs_exactly_what_it_declares(project, emulator):
    """Fresh: all new (exit 2); after a run nothing is pending (exit 0), a rerun sends nothing and
    leaves the lock byte for byte; editing one recipe makes exactly its jobs pending, and only they
    run."""
    root = project.root
    write_recipes(root)
    code, out, _ = await run_cli(
        root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "."
    )
    assert code == 2 and out.splitlines()[-1].startswith(
        "plan: 4 new, 0 changed, 0 unchanged, 0 orphaned; 5 billable"
    )
    code, _, err = await run_cli(root, "run", *emulator.run_target, ".")
    assert code == 0, err
    lock = (root / "wanform.lock").read_bytes()
    assert (await run_cli(root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "."))[
        0
    ] == 0
    sent = await submissions(emulator)
    code, _, err = await run_cli(root, "run", *emulator.run_target, ".")
    assert (code, await submissions(emulator), (root / "wanform.lock").read_bytes()) == (
        0,
        sent,
        lock,
    )
    assert "nothing to run" in err
    (root / "car.yaml").write_text(CAR.replace("n: 2", "n: 1"))
    code, out, _ = await run_cli(
        root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "."
    )
    assert code == 2
    assert [line.split()[:3] for line in out.splitlines() if line.startswith(("+", "~", "-"))] == [
        ["~", "changed", "car.yaml::car"]
    ]
    assert "car.yaml::car (wanx2.1-imageedit, 1 image): n" in out
    assert (await run_cli(root, "run", *emulator.run_target, "."))[0] == 0
    assert await submissions(emulator) == sent + 1


async def test_force_runs_every_job_again(project, emulator):
    """--force submits every declared job anew, even those whose finished task and files the
    journal holds, and the lock records the new tasks."""
    root = project.root
    write_recipes(root)
    assert (await run_cli(root, "run", *emulator.run_target, "."))[0] == 0
    sent = await submissions(emulator)
    tasks = {
        k: e["task_id"] for k, e in json.loads((root / "wanform.lock").read_text())["jobs"].items()
    }
    code, _, err = await run_cli(root, "run", "--force", *emulator.run_target, ".")
    assert code == 0, err
    assert await submissions(emulator) == 2 * sent == 8, err
    again = {
        k: e["task_id"] for k, e in json.loads((root / "wanform.lock").read_text())["jobs"].items()
    }
    assert again.keys() == tasks.keys() and not set(again.values()) & set(tasks.values())


async def test_image_bytes_rename_and_deletion(project, emulator):
    """New image bytes change the jobs that read them; a rename changes nothing; a deleted recipe is
    orphaned, and --prune removes its entry and its files."""
    root = project.root
    write_recipes(root)
    assert (await run_cli(root, "run", *emulator.run_target, "."))[0] == 0
    shutil.move(root / "images" / "grayscale-leaves.jpg", root / "images" / "leaves.jpg")
    (root / "car.yaml").write_text(CAR.replace("grayscale-leaves.jpg", "leaves.jpg"))
    assert (await run_cli(root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "."))[
        0
    ] == 0
    Image.new("RGB", (768, 1024), "gray").save(root / "images" / "portrait.png")
    code, out, _ = await run_cli(
        root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "-o", "json", "."
    )
    jobs = {j["key"]: (j["status"], j["reasons"]) for j in json.loads(out)["jobs"]}
    assert code == 2 and Counter(status for status, _ in jobs.values()) == Counter(
        {"changed": 3, "unchanged": 1}
    )
    assert jobs["fox.yaml::fox[seed=1]"] == ("changed", ["inputs[0].image"])
    (root / "fox.yaml").unlink()
    code, out, _ = await run_cli(
        root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "."
    )
    assert code == 2 and "- orphaned  fox.yaml::fox[seed=2] (wan2.7-image)" in out
    outputs = [
        o["path"]
        for e in json.loads((root / "wanform.lock").read_text())["jobs"].values()
        if e["recipe"] == "fox.yaml"
        for o in e["outputs"]
    ]
    assert outputs and all((root / p).is_file() for p in outputs)
    code, _, err = await run_cli(root, "run", "--prune", *emulator.run_target, ".")
    assert code == 0, err
    assert not any((root / p).exists() for p in outputs)
    assert sorted(json.loads((root / "wanform.lock").read_text())["jobs"]) == ["car.yaml::car"]


async def test_budget_refuses_before_any_request(project, emulator):
    """--max-images and --max-cost stop an over-budget run with exit 1 before a single request is
    sent."""
    write_recipes(project.root)
    code, _, err = await run_cli(
        project.root, "run", "--max-images", "4", *emulator.run_target, "."
    )
    assert code == 1 and "would bill up to 5 images, over --max-images 4; nothing was sent" in err
    code, _, err = await run_cli(
        project.root, "run", "--max-cost", "0.5", *emulator.run_target, "."
    )
    assert code == 1 and "over --max-cost 0.5" in err
    assert await emulator.requests() == []


async def test_a_refused_run_releases_the_guard_and_its_owner_file(project, emulator):
    """A run that exits 1 while it holds the run guard leaves no owner file behind."""
    write_recipes(project.root)
    code, _, err = await run_cli(
        project.root, "run", "--max-images", "4", *emulator.run_target, "."
    )
    assert code == 1, err
    assert not (project.root / ".wanform" / "run.owner").exists()


async def test_shards_run_every_job_exactly_once_and_their_locks_merge(
    project, emulator, tmp_path_factory
):
    """Three machines of a CI matrix, each with its own checkout, running at once on one key:
    every job runs once, the locks merge. (Each shard lists the account's tasks before it first
    submits; the submissions are held a few seconds so no shard meets a sibling's task: one that
    starts after a sibling has made tasks finds them unclaimed, and is unresolved.)"""
    write_recipes(project.root)
    for extra in range(3):
        (project.root / f"fox{extra}.yaml").write_text(FOX.replace("[1, 2, 3]", f"[{10 + extra}]"))
    await emulator.fault(action="latency", seconds=4 * emulator.speed)
    checkouts = []
    for k in (1, 2, 3):
        copy = tmp_path_factory.mktemp(f"shard{k}")
        shutil.copytree(project.root, copy, dirs_exist_ok=True)
        checkouts.append(copy)
    shards = await asyncio.gather(
        *(
            run_cli(copy, "run", "--shard", f"{k}/3", *emulator.run_target, ".")
            for k, copy in enumerate(checkouts, 1)
        )
    )
    for code, _, err in shards:
        assert code == 0, err
    assert (
        await submissions(emulator) == 7
    )  # 7 jobs, each in exactly one shard's lock (below): none ran twice
    locks = [str(c / "wanform.lock") for c in checkouts]
    sizes = [len(json.loads(Path(p).read_text())["jobs"]) for p in locks]
    assert sorted(sizes) == [2, 2, 3]
    code, out, err = await run_cli(project.root, "merge-locks", *locks)
    assert code == 0, err
    merged = json.loads((project.root / "wanform.lock").read_text())["jobs"]
    assert len(merged) == 7
    assert (await run_cli(project.root, "plan", "--detailed-exitcode", "."))[
        0
    ] == 2  # outputs live on the shards


async def test_event_stream_and_junit(project, emulator):
    """-o ndjson streams versioned events for every step; --junit writes one test case per job."""
    (project.root / "car.yaml").write_text(CAR)
    code, out, err = await run_cli(
        project.root,
        "run",
        "-o",
        "ndjson",
        "--junit",
        "report.xml",
        *emulator.run_target,
        ".",
    )
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert {e["v"] for e in events} == {1}
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert {"queued", "submitted", "polled", "downloaded", "succeeded"} <= set(kinds)
    assert (
        kinds.index("queued")
        < kinds.index("submitted")
        < kinds.index("downloaded")
        < kinds.index("succeeded")
    )
    suite = ET.parse(project.root / "report.xml").getroot()
    assert (suite.tag, suite.get("tests"), suite.get("failures")) == ("testsuite", "1", "0")
    assert [c.get("name") for c in suite.iter("testcase")] == ["car"]


@pytest.mark.parametrize("option", ["--lock", "--junit", "--out"])
async def test_an_unwritable_destination_stops_the_run_before_any_request(
    project, emulator, option
):
    """A lock, report or output path that cannot be written is named at once, with exit 1, and
    nothing is sent."""
    write_recipes(project.root)
    (project.root / "taken").write_text("a file, not a directory")
    code, _, err = await run_cli(project.root, "run", option, "taken/x", *emulator.run_target, ".")
    assert (
        code == 1 and f"error: {option}: cannot write in taken" in err and "nothing was sent" in err
    )
    assert "Traceback" not in err and await emulator.requests() == []


async def test_a_second_run_on_the_same_project_refuses(project, emulator):
    """While one run holds the project, another exits 1 at once, saying why, and sends nothing."""
    write_recipes(project.root)
    with run_guard(project.root):
        code, _, err = await run_cli(project.root, "run", *emulator.run_target, ".")
    assert code == 1 and "another wanform run is using" in err
    assert f"pid {os.getpid()} on {socket.gethostname()}" in err  # who to wait for, or to stop
    assert await emulator.requests() == []
    assert not (project.root / ".wanform" / "run.owner").exists()  # released with the lock
