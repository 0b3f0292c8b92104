"""Jobs that got fewer images than they asked for: complete where the service may make fewer,
incomplete (pending, rerun whole) when the failures may pass on a retry, partial (kept, rerun only
with --force) when they are about content."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from runner_kit import SUBMIT_PATHS, run_cli

from wanform.spec.models import table

FOX = """\
model: wan2.5-i2i-preview
prompt: A red fox in the snow.
inputs:
  - path: images/portrait.png
n: 2
"""
OWL = """\
model: wan2.5-i2i-preview
prompt: An owl at night.
inputs:
  - path: images/portrait.png
n: 1
"""
STORY = """\
model: wan2.7-image
prompt: A paper boat floats down a stream to the sea.
enable_sequential: true
size: 1K
n: 3
seed: 314
"""


@pytest.fixture
async def emulator(emulators):
    return await emulators(speed=200.0)


async def submissions(emulator) -> int:
    return sum(1 for e in await emulator.requests() if e["path"] in SUBMIT_PATHS)


def lock(root: Path) -> dict:
    return json.loads((root / "wanform.lock").read_text())["jobs"]


async def run(root: Path, emulator, *args: str) -> tuple[int, str, str]:
    return await run_cli(root, "run", *emulator.run_target, *args)


async def test_a_partial_job_that_a_retry_may_finish_is_incomplete_and_rerun_once(
    project, emulator
):
    """Image 2 times out: the run exits 3 and the lock records the job partial with the failure;
    `plan` shows `~ incomplete` with the cost of rerunning (exit 2 with --detailed-exitcode); a
    run that fails again keeps the image made; the next rerun submits only that job, once, and
    completes it."""
    root = project.root
    project.recipe("fox", FOX)
    project.recipe("owl", OWL)
    await emulator.fault(
        action="partial", model="wan2.5-i2i-preview", prompt="fox", failed=1,
        code="InternalError.Timeout", times=1,
    )  # fmt: skip
    code, out, err = await run(root, emulator, "--junit", "report.xml", ".")
    assert code == 3, err
    assert "image 2 failed: InternalError.Timeout" in out
    assert "a rerun submits the whole request again" in out
    entry = lock(root)["fox.yaml::fox"]
    assert entry["state"] == "partial" and [f["code"] for f in entry["failures"]] == [
        "InternalError.Timeout"
    ]
    assert lock(root)["owl.yaml::owl"]["state"] == "complete"
    case = ET.parse(root / "report.xml").find("testcase[@name='fox']")
    assert case is not None and case.findtext("system-out", "").startswith("state: partial")

    code, out, _ = await run_cli(
        root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "."
    )
    assert code == 2
    assert (
        "~ incomplete fox.yaml::fox (wan2.5-i2i-preview, 2 images): "
        "image 2 failed: InternalError.Timeout, a rerun submits the whole request again"
    ) in out
    assert "plan: 0 new, 0 changed, 1 incomplete, 1 unchanged, 0 orphaned; 2 billable" in out

    kept = (root / "out" / "fox" / "fox-1.png").read_bytes()
    sent = await submissions(emulator)
    await emulator.fault(action="fail", prompt="fox", code="InternalError", times=1)
    code, _, err = await run(root, emulator, ".")
    assert code == 3 and await submissions(emulator) == sent + 1
    assert (root / "out" / "fox" / "fox-1.png").read_bytes() == kept
    assert lock(root)["fox.yaml::fox"] == entry

    code, out, err = await run(root, emulator, ".")
    assert code == 0, err
    assert await submissions(emulator) == sent + 2
    entry = lock(root)["fox.yaml::fox"]
    assert entry["state"] == "complete" and entry["failures"] == []
    assert sorted(p.name for p in (root / "out" / "fox").iterdir()) == [
        "fox-1.png",
        "fox-2.png",
        "fox.json",
    ]
    assert (await run_cli(root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "."))[
        0
    ] == 0
    code, _, err = await run(root, emulator, ".")
    assert code == 0 and "nothing to run" in err and await submissions(emulator) == sent + 2


async def test_a_rerun_drops_the_images_the_new_task_did_not_make(project, emulator):
    """The whole request runs again: when the new task is partial too, the job's files are the new
    task's, never a mix of two tasks."""
    root = project.root
    project.recipe("fox", FOX.replace("n: 2", "n: 3"))
    await emulator.fault(
        action="partial", prompt="fox", failed=1, code="InternalError.Timeout", times=1
    )
    assert (await run(root, emulator, "."))[0] == 3
    await emulator.fault(
        action="partial", prompt="fox", failed=2, code="InternalError.Timeout", times=1
    )
    assert (await run(root, emulator, "."))[0] == 3
    assert sorted(p.name for p in (root / "out" / "fox").iterdir()) == ["fox-1.png", "fox.json"]
    assert [o["path"] for o in lock(root)["fox.yaml::fox"]["outputs"]] == ["out/fox/fox-1.png"]


async def test_a_partial_job_refused_for_its_content_is_rerun_only_when_forced(project, emulator):
    """DataInspectionFailed would fail and bill again: `plan` shows the job partial with the code
    and nothing pending, `run` sends nothing, and `run --force` naming its recipe reruns it."""
    root = project.root
    project.recipe("fox", FOX)
    project.recipe("owl", OWL)
    await emulator.fault(
        action="partial", prompt="fox", failed=1, code="DataInspectionFailed", times=1
    )
    code, out, _ = await run(root, emulator, ".")
    assert code == 3
    assert "not rerun: it would fail and bill again; --force reruns it" in out
    code, out, _ = await run_cli(
        root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "."
    )
    assert code == 0
    assert (
        "! partial   fox.yaml::fox (wan2.5-i2i-preview): image 2 failed: DataInspectionFailed, "
        "not rerun: it would fail and bill again; --force reruns it"
    ) in out
    assert "plan: 0 new, 0 changed, 1 partial, 1 unchanged, 0 orphaned; 0 billable" in out
    sent = await submissions(emulator)
    code, _, err = await run(root, emulator, ".")
    assert code == 0 and "nothing to run" in err and await submissions(emulator) == sent
    code, _, err = await run(root, emulator, "--force", "fox.yaml")
    assert code == 0, err
    assert await submissions(emulator) == sent + 1
    assert lock(root)["fox.yaml::fox"]["state"] == "complete"


async def test_an_image_set_with_fewer_images_than_n_is_complete(project, emulators):
    """An image set makes "up to" n images: two of three is the job done, not pending."""
    emulator = await emulators(models=table({"sets.count": "exact"}))  # three, then one fails
    root = project.root
    project.recipe("story", STORY)
    await emulator.fault(action="partial", model="wan2.7-image", failed=1, code="InternalError")
    code, out, err = await run(root, emulator, ".")
    assert code == 0, out + err
    entry = lock(root)["story.yaml::story"]
    assert entry["state"] == "complete" and len(entry["outputs"]) == 2
    assert (await run_cli(root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "."))[
        0
    ] == 0


async def test_images_left_out_without_a_code_leave_the_job_partial_not_pending(project, emulator):
    """wan2.7 leaves failed images out of its answer and names no code: nothing says a retry
    would pass, so the job is partial (NotReturned) and is not billed again unasked."""
    root = project.root
    project.recipe("boat", STORY.replace("enable_sequential: true\n", "").replace("n: 3", "n: 2"))
    await emulator.fault(action="partial", model="wan2.7-image", failed=1, code="InternalError")
    code, out, _ = await run(root, emulator, ".")
    assert code == 3 and "image 2 failed: NotReturned" in out
    assert lock(root)["boat.yaml::boat"]["state"] == "partial"
    code, out, _ = await run_cli(
        root, "plan", "--target", emulator.base_url, "--detailed-exitcode", "."
    )
    assert (
        code == 0
        and "! partial   boat.yaml::boat (wan2.7-image): image 2 failed: NotReturned" in out
    )
