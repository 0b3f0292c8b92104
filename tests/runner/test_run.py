"""End-to-end runs against the emulator over real sockets: every recipe, throttling, faults,
resumption."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections import Counter
from dataclasses import replace

import pytest
from PIL import Image
from runner_kit import KEY, REPO, SUBMIT_PATHS, fast_models, images, run

from wanform.runner.api.limits import resolve_limits
from wanform.runner.engine import results
from wanform.runner.exits import Exit
from wanform.spec.models import MODELS, table

FOXES = """\
    model: wan2.7-image
    prompt: A red fox in the snow.
    n: 2
    matrix:
      seed: [1, 2, 3]
    """
VASE = """\
    model: wan2.5-i2i-preview
    prompt: Put the alarm clock next to the vase.
    inputs:
      - path: images/alarm-clock.png
      - path: images/table-vase.png
    n: 3
    seed: 7
    """


def submissions(entries: list[dict]) -> list[dict]:
    return [e for e in entries if e["path"] in SUBMIT_PATHS]


async def test_every_example_recipe_runs_to_its_images(project, emulators):
    """Each job of recipes/ ends SUCCEEDED with the PNGs the emulator made, a sidecar, one task."""
    shutil.copytree(REPO / "recipes", project.root / "recipes")
    models = {name: replace(spec, submit_rps=20, max_in_flight=10) for name, spec in MODELS.items()}
    emulator = await emulators(models=models)
    done = await run(
        project,
        emulator,
        str(project.root / "recipes"),
        models=models,
        limits=resolve_limits(models, {}),
    )
    assert done.result.exit_code == Exit.OK, done.out + done.err
    jobs = done.result.jobs
    assert len(jobs) == 60  # 29, the 7 jobs of the chains and the 24 of recipes/catalogue
    created = Counter(e["task_id"] for e in submissions(await emulator.requests()))
    assert sorted(created.values()) == [1] * len(jobs)
    for job in jobs:
        sidecar = (
            json.loads((project.root / job.sidecar).read_text(encoding="utf-8"))
            if job.sidecar
            else {}
        )
        assert sidecar["task_id"] == job.task_id and created[job.task_id] == 1
        assert sidecar["usage"]["image_count"] == len(job.images) > 0
        for image in job.images:
            with Image.open(image.file) as png:
                assert png.format == "PNG" and png.text["Source"] == job.model


async def test_a_429_is_retried_and_counted(project, emulators):
    """A throttled submission is sent again: all jobs succeed, one 429 is counted, a task a job."""
    emulator = await emulators()
    await emulator.fault(action="error", code="Throttling.RateQuota", nth=1)
    project.recipe("foxes", FOXES)
    done = await run(project, emulator)
    assert done.result.exit_code == Exit.OK
    assert done.result.throttled == 1
    statuses = [e["status"] for e in submissions(await emulator.requests())]
    assert sorted(statuses) == [200, 200, 200, 429]


async def test_known_limits_draw_no_429(project, emulators):
    """With the documented limits enforced strictly (429 beyond the cap) the run hears no 429."""
    models = fast_models(0.3)
    emulator = await emulators(speed=1.0, queue_over_cap=False, models=models)
    project.recipe(
        "foxes",
        FOXES.replace("[1, 2, 3]", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]").replace(
            "n: 2", "n: 1"
        ),
    )
    done = await run(project, emulator, models=models, target_speed=1.0)
    assert done.result.exit_code == Exit.OK
    entries = await emulator.requests()
    assert {e["status"] for e in entries} == {200}
    assert len(submissions(entries)) == 12 and done.result.throttled == 0


async def test_partial_failure_keeps_the_images_that_were_made(project, emulators):
    """One of three images fails: the others are saved, its code is in the report and sidecar."""
    emulator = await emulators()
    await emulator.fault(
        action="partial",
        failed=1,
        code="DataInspectionFailed",
        message="Output data may contain inappropriate content.",
    )
    project.recipe("vase", VASE)
    done = await run(project, emulator)
    job = done.job("vase")
    assert done.result.exit_code == Exit.FAILED
    assert (job.state, [i.index for i in job.images]) == ("partial", [1, 2])
    assert [(f.index, f.code) for f in job.failures] == [(3, "DataInspectionFailed")]
    sidecar = json.loads((project.out / "vase" / "vase.json").read_text(encoding="utf-8"))
    assert sidecar["failed_images"] == [
        {
            "index": 3,
            "code": "DataInspectionFailed",
            "message": "Output data may contain inappropriate content.",
        }
    ]
    assert images(project.out) == ["vase/vase-1.png", "vase/vase-2.png", "vase/vase.json"]
    assert "image 3 failed: DataInspectionFailed" in done.out


async def test_a_failed_task_fails_its_job_only(project, emulators):
    """A task that ends FAILED makes its job fail with the task's code; the other jobs succeed."""
    emulator = await emulators()
    await emulator.fault(action="fail", code="InternalError.Algo", prompt="seed-two")
    project.recipe(
        "foxes",
        """\
        model: wan2.7-image
        prompt: a fox
        n: 1
        matrix:
          prompt: [seed-one fox, seed-two fox, seed-three fox]
        """,
    )
    done = await run(project, emulator)
    states = {j.job: (j.state, j.error.code if j.error else None) for j in done.result.jobs}
    assert states == {
        "foxes[prompt=seed-one fox]": ("succeeded", None),
        "foxes[prompt=seed-two fox]": ("failed", "InternalError.Algo"),
        "foxes[prompt=seed-three fox]": ("succeeded", None),
    }
    assert done.result.exit_code == Exit.FAILED


async def test_drops_before_and_after_creation_never_submit_twice(project, emulators):
    """A connection dropped before the task exists is retried; one dropped after is recovered.
    One job at a time, so each lost answer has one submission that can have made a task."""
    emulator = await emulators()
    await emulator.fault(action="drop", when="before", nth=1)
    await emulator.fault(action="drop", when="after", nth=2)
    project.recipe("foxes", FOXES)
    one_at_a_time = {
        name: replace(spec, max_in_flight=1) if name == "wan2.7-image" else spec
        for name, spec in MODELS.items()
    }
    done = await run(project, emulator, limits=resolve_limits(one_at_a_time, {}))
    assert done.result.exit_code == Exit.OK, done.out + done.err
    created = await emulator.created()
    assert len(created) == len(set(created)) == 3
    assert sorted(j.task_id for j in done.result.jobs) == sorted(created)
    assert [e["status"] for e in submissions(await emulator.requests())].count(None) == 2
    assert "adopted task" in done.err


async def test_two_answers_lost_at_once_leave_both_jobs_unresolved(project, emulators):
    """Two lost answers of one model in the air together, and one task made: nothing tells whose
    it is (same prompt, size and n), so neither job takes it and neither pays again."""
    emulator = await emulators()
    # the submissions' (the run lists the account's tasks first)
    await emulator.fault(action="drop", when="before", nth=1, model="wan2.7-image")
    await emulator.fault(action="drop", when="after", nth=1, model="wan2.7-image")
    project.recipe("foxes", FOXES)
    done = await run(project, emulator)
    assert done.result.exit_code == Exit.FAILED
    states = {j.job: j.state for j in done.result.jobs}
    assert sorted(states.values()) == ["succeeded", "unresolved", "unresolved"]
    created = await emulator.created()
    assert len(created) == 2
    lost = next(t for t in created if t not in {j.task_id for j in done.result.jobs})
    for job in done.result.jobs:
        if job.state == "unresolved":
            assert job.error is not None and lost in str(job.error)


# held: the body is in memory when it is cut; spilled: part of it is already in its temporary
@pytest.mark.parametrize("spool", [results.SPOOL_BYTES, 256], ids=["held", "spilled"])
async def test_a_cut_off_download_is_fetched_again_and_never_left_half_written(
    project, emulators, monkeypatch, spool
):
    """The first download ends halfway: the file is the whole second download, no temporary left."""
    monkeypatch.setattr(results, "SPOOL_BYTES", spool)
    emulator = await emulators()
    await emulator.fault(action="cut", nth=1)
    project.recipe("vase", VASE)
    done = await run(project, emulator)
    assert done.result.exit_code == Exit.OK
    assert images(project.out) == [
        "vase/vase-1.png",
        "vase/vase-2.png",
        "vase/vase-3.png",
        "vase/vase.json",
    ]
    for name in ("vase-1.png", "vase-2.png", "vase-3.png"):
        with Image.open(project.out / "vase" / name) as png:
            png.load()  # a truncated PNG raises here
    downloads = [e for e in await emulator.requests() if e["path"].startswith("/__results/")]
    assert len(downloads) == 4


async def test_an_expired_journaled_task_is_submitted_again_with_a_notice(project, emulators):
    """A journaled task reads UNKNOWN 24 h later: the rerun says so and submits the job anew."""
    models = fast_models(0.5)
    emulator = await emulators(speed=1.0, models=models)
    project.recipe("vase", VASE)
    first = asyncio.ensure_future(run(project, emulator))
    while not any(e["event"] == "submitted" for e in _journal(project)):
        await asyncio.sleep(0.02)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await emulator.advance(25 * 3600)
    done = await run(project, emulator, models=models, target_speed=1.0)
    job = done.job("vase")
    old = next(e["task_id"] for e in _journal(project) if e["event"] == "submitted")
    assert job.state == "succeeded" and job.task_id != old
    assert job.notices == [
        f"task {old} from an earlier run is UNKNOWN to the service (expired after 24 h, "
        "or never created); submitting the job again"
    ]
    assert [e["event"] for e in _journal(project) if e.get("task_id") == old] == [
        "submitted",
        "expired",
    ]


def _journal(project) -> list[dict]:
    try:
        return project.journal()
    except FileNotFoundError:
        return []


async def test_a_journaled_task_is_polled_not_resubmitted(project, emulators):
    """A run cancelled after submitting is resumed by the next: the same task, one submission."""
    models = fast_models(0.5)
    emulator = await emulators(speed=1.0, models=models)
    project.recipe("vase", VASE)
    first = asyncio.ensure_future(run(project, emulator, models=models))
    while not any(e["event"] == "submitted" for e in _journal(project)):
        await asyncio.sleep(0.02)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    done = await run(project, emulator, models=models)
    assert done.job("vase").resumed and done.result.exit_code == Exit.OK
    assert len(await emulator.created()) == 1
    again = await run(project, emulator, models=models)
    assert again.job("vase").state == "skipped"
    assert len(submissions(await emulator.requests())) == 1


async def test_a_modified_output_is_made_again_not_skipped(project, emulators):
    """An output edited since the run (same name and size) is not skipped: it is fetched again."""
    emulator = await emulators()
    project.recipe("vase", VASE)
    assert (await run(project, emulator)).result.exit_code == Exit.OK
    image = project.out / "vase" / "vase-2.png"
    made = image.read_bytes()
    image.write_bytes(made[:-20] + bytes(20))
    again = await run(project, emulator)
    assert (again.job("vase").state, len(await emulator.created())) == ("succeeded", 1)
    assert image.read_bytes() == made


async def test_a_job_done_on_one_target_runs_again_on_another(project, emulators):
    """The journal keys jobs by target too: what one service made is not taken as another's."""
    first, second = await emulators(), await emulators()
    project.recipe("vase", VASE)
    assert (await run(project, first)).result.exit_code == Exit.OK
    again = await run(project, second)
    assert again.job("vase").state == "succeeded"
    assert (len(await first.created()), len(await second.created())) == (1, 1)


async def test_a_bad_key_stops_the_run_at_once(project, emulators):
    """InvalidApiKey on the first request (the account's task list, before any submission) stops
    the run (exit 4), not each job in turn."""
    emulator = await emulators(api_keys=("sk-the-only-good-key",))
    project.recipe("foxes", FOXES)
    done = await run(project, emulator)
    assert done.result.exit_code == Exit.STOPPED
    assert done.result.stopped.code == "InvalidApiKey"
    requests = await emulator.requests()
    assert len(requests) == 1 and not submissions(requests)
    assert KEY.encode() not in project.written()
    assert KEY not in done.out + done.err


async def test_arrears_stop_the_run(project, emulators):
    """Arrearage is account-level: not retried, the run stops with its message and what to do."""
    emulator = await emulators()
    await emulator.fault(action="error", code="Arrearage")
    project.recipe("foxes", FOXES)
    done = await run(project, emulator)
    assert done.result.exit_code == Exit.STOPPED
    assert done.result.stopped.line() == (
        "Arrearage: Access denied, make sure your account is in good standing. "
        "(the account is in arrears; top it up in the Alibaba Cloud console)"
    )
    assert len(submissions(await emulator.requests())) == 1


async def test_invalid_parameter_is_not_retried(project, emulators):
    """A 400 InvalidParameter fails its job after one attempt; the other jobs still run."""
    emulator = await emulators()
    await emulator.fault(action="error", code="InvalidParameter", nth=1)
    project.recipe("foxes", FOXES)
    done = await run(project, emulator)
    assert [j.state for j in done.result.jobs].count("failed") == 1
    assert len(submissions(await emulator.requests())) == 3


async def test_an_unreachable_target_stops_with_one_line(project, emulators):
    """Nothing listens at the target: the run stops (exit 4) naming the address, no traceback."""
    emulator = await emulators()
    project.recipe("foxes", FOXES)
    done = await run(project, emulator, base_url="http://127.0.0.1:9/api/v1")
    assert done.result.exit_code == Exit.STOPPED
    assert done.result.stopped.line().startswith(
        "ConnectionError: GET http://127.0.0.1:9/api/v1/tasks: cannot connect to 127.0.0.1:9"
    )


async def test_sync_calls_write_the_same_files(project, emulators):
    """--sync uses wan2.7's sync endpoint; wan2.5 (none) and wan2.6 interleaving stay async."""
    emulator = await emulators(models=table({"sets.count": "exact"}))  # every image, to count
    project.recipe("foxes", FOXES)
    project.recipe("vase", VASE)
    shutil.copy(REPO / "recipes" / "wan26-image-interleave.yaml", project.root / "story.yaml")
    done = await run(project, emulator, synchronous=True)
    assert done.result.exit_code == Exit.OK
    paths = Counter(e["path"].rsplit("/", 2)[-2] for e in submissions(await emulator.requests()))
    assert paths == Counter({"multimodal-generation": 3, "image2image": 1, "image-generation": 1})
    assert len(images(project.out)) == 3 * 3 + 4 + 5
    story = json.loads((project.out / "story" / "story.json").read_text(encoding="utf-8"))
    assert len(story["texts"]) == 4 and len(story["images"]) == 4


async def test_an_image_set_of_fewer_than_n_is_a_complete_job(project, emulators):
    """The docs promise "up to n" images for an image set: seed 3 makes 3 of 4 on the emulator
    (sets.count=fewer), and the job succeeds with those 3."""
    emulator = await emulators()
    project.recipe(
        "set",
        """\
        model: wan2.7-image
        prompt: Four seasons of one tree.
        enable_sequential: true
        n: 4
        seed: 3
        """,
    )
    done = await run(project, emulator)
    assert [(j.state, len(j.images), list(j.failures)) for j in done.result.jobs] == [
        ("succeeded", 3, [])
    ]
