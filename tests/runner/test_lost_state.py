"""A run whose local state is gone, or whose clock is not the service's, never pays twice (issue 19,
items 1 and 2): the account's own task list is the record of last resort."""

from __future__ import annotations

import asyncio
import shutil
import signal

import aiohttp
import pytest
from runner_kit import KEY, SEEDS, fast_models, run
from test_process import created, journaled, tasks_made, wanform

from wanform.runner.exits import Exit

FOXES = """\
    model: wan2.7-image
    prompt: A red fox in the snow.
    n: 1
    matrix:
      seed: [1, 2, 3]
    """
HOURS = 3600.0


def lose(project, how: str) -> None:
    """What a crash, `git clean -fdx` or a fresh CI machine leaves of a project's state."""
    journal = project.root / ".wanform" / "journal.jsonl"
    if how == "emptied":
        journal.write_bytes(b"")
    elif how == "nul-filled":
        journal.write_bytes(b"\0" * journal.stat().st_size)
    else:  # .wanform/, the lock and the outputs gone: a fresh clone of a repo the run never updated
        shutil.rmtree(project.root / ".wanform")
        (project.root / "wanform.lock").unlink(missing_ok=True)
        shutil.rmtree(project.out, ignore_errors=True)


@pytest.mark.parametrize("how", ["emptied", "nul-filled", "fresh clone"])
async def test_a_rerun_after_its_state_was_lost_pays_for_nothing_twice(project, emulators, how):
    """Three tasks made, then the record of them lost: the rerun lists the account's tasks, pays
    for none of the jobs again, and names the tasks; told to, it pays knowingly."""
    emulator = await emulators()
    project.recipe("foxes", FOXES)
    assert (await run(project, emulator)).result.exit_code == Exit.OK
    made = await created(emulator)
    lose(project, how)
    again = await run(project, emulator)
    assert again.result.exit_code == Exit.FAILED
    assert await created(emulator) == made
    for job in again.result.jobs:
        assert job.state == "unresolved" and all(task in job.error.message for task in made)
        assert "--resubmit-unresolved" in job.error.line()
    paid = await run(project, emulator, resubmit_unresolved=True)
    assert paid.result.exit_code == Exit.OK and len(await created(emulator)) == 6
    # the tasks paid past stop no later run
    (project.root / "owl.yaml").write_text(FOXES.replace("fox", "owl").replace("    ", ""))
    owls = await run(project, emulator, str(project.root / "owl.yaml"))
    assert owls.result.exit_code == Exit.OK and len(await created(emulator)) == 9


async def test_force_pays_past_the_accounts_tasks(project, emulators):
    """--force runs every job as a new task, knowingly: the account's tasks do not stop it."""
    emulator = await emulators()
    project.recipe("foxes", FOXES)
    assert (await run(project, emulator)).result.exit_code == Exit.OK
    lose(project, "emptied")
    forced = await run(project, emulator, redo_finished=True)
    assert forced.result.exit_code == Exit.OK and len(await created(emulator)) == 6


@pytest.mark.parametrize("how", ["emptied", "nul-filled"])
async def test_kill_9_then_a_lost_journal_pays_for_no_running_job_twice(project, emulators, how):
    """Killed with tasks running, then the journal lost: the rerun submits none of them again."""
    emulator = await emulators(speed=1.0, queue_over_cap=True)  # 30 s tasks
    project.recipe("foxes", SEEDS)
    args = ("foxes.yaml", "--target", emulator.base_url, "-o", "json")
    first = await wanform(project, *args, short=True)
    await asyncio.wait_for(journaled(project, first, "submitted", 2), 20)
    first.send_signal(signal.SIGKILL)
    await first.communicate()
    made = await created(emulator)
    lose(project, how)
    second = await wanform(project, *args, short=True)
    out, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == Exit.FAILED, err.decode()
    assert await created(emulator) == made and len(made) >= 2
    assert out.decode().count('"unresolved"') >= 1


@pytest.mark.parametrize("skew", [600.0, -600.0, 8 * HOURS, -8 * HOURS])
async def test_a_lost_answer_is_found_on_a_skewed_service_clock(project, emulators, skew):
    """The service's clock ten minutes or eight hours off the machine's: a submission whose answer
    was lost is still found in the account's list (in the service's time) and adopted, not paid
    for again."""
    models = fast_models(0.3)
    emulator = await emulators(speed=1.0, clock_skew=skew, models=models)
    await emulator.fault(action="drop", when="after", nth=1, model="wan2.7-image")
    project.recipe("foxes", FOXES)
    done = await run(project, emulator, models=models, target_speed=None)
    made = await created(emulator)
    assert len(made) == 3, done.out
    assert done.result.exit_code == Exit.OK, done.out
    assert sorted(j.task_id for j in done.result.jobs) == sorted(made)


@pytest.mark.parametrize("skew", [600.0, -8 * HOURS])
async def test_a_killed_runs_lost_answer_is_found_on_a_skewed_service_clock(
    project, emulators, skew
):
    """A run killed with a submission unanswered, rerun against a service whose clock is off the
    machine's: the task it made is adopted, not paid for again."""
    emulator = await emulators(speed=30.0, clock_skew=skew)
    await emulator.fault(action="latency", seconds=60, nth=2, model="wan2.7-image")
    project.recipe("foxes", FOXES)
    args = ("foxes.yaml", "--target", emulator.base_url, "--emulator-speed", "30", "-o", "json")
    first = await wanform(project, *args, short=True)
    await asyncio.wait_for(journaled(project, first, "submitting", 2), 20)
    await asyncio.sleep(0.3)  # journaled before it is sent: let the request reach the emulator
    first.kill()
    await first.communicate()
    await asyncio.wait_for(tasks_made(emulator, 2), 30)
    second = await wanform(project, *args, short=True)
    out, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == Exit.OK, err.decode()
    assert len(await created(emulator)) == 3 and err.decode().count("adopted task") == 1


async def test_many_unclaimed_tasks_are_named_once_not_once_per_job(project, emulators):
    """Seven jobs, their seven tasks' record lost: every job is unresolved, but the journal
    names each task in one line, not in every job's (at 10,000 rows that was 10^8 ids and 14 GB
    of memory), and each error names a few and counts the rest."""
    emulator = await emulators()
    project.recipe("foxes", FOXES.replace("[1, 2, 3]", str(list(range(7)))))
    assert (await run(project, emulator)).result.exit_code == Exit.OK
    made = await created(emulator)
    lose(project, "emptied")
    again = await run(project, emulator)
    assert again.result.exit_code == Exit.FAILED and await created(emulator) == made
    journal = (project.root / ".wanform" / "journal.jsonl").read_text()
    assert {journal.count(task) for task in made} == {1}
    for job in again.result.jobs:
        assert job.state == "unresolved" and "and 2 more" in job.error.message
        assert sorted(job.as_dict()["error"]["candidates"]) == sorted(made)  # -o json: all
    # the next run reads every job's candidates back, and pays past them when told to
    still = await run(project, emulator)
    assert {job.state for job in still.result.jobs} == {"unresolved"}
    paid = await run(project, emulator, resubmit_unresolved=True)
    assert paid.result.exit_code == Exit.OK and len(await created(emulator)) == 14


async def test_a_dead_runs_first_request_of_a_model_is_named_after_its_state_was_lost(
    project, emulators
):
    """A run made a wan2.7-image task, sent its first wan2.7-image-pro request and died; its
    state is lost and the rerun starts while that request is still making its task. The account
    shows no wan2.7-image-pro task yet, but a moment-old task nobody claims: the rerun waits out
    the grace before it lists, so it names the late task instead of paying for the job again
    (it listed at once, found nothing and paid twice)."""
    models = fast_models(0.3)
    emulator = await emulators(speed=1.0, models=models)
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    path = emulator.base_url + "/services/aigc/image-generation/generation"
    await emulator.fault(action="latency", seconds=1.5, model="wan2.7-image-pro", nth=1)
    async with aiohttp.ClientSession(headers=headers) as dead:
        async with dead.post(path, json=wire("wan2.7-image", "A moth.")) as answer:
            assert answer.status == 200
        in_air = asyncio.ensure_future(dead.post(path, json=wire("wan2.7-image-pro", "An owl.")))
        await asyncio.sleep(0.2)
        in_air.cancel()  # the connection closes, as the process's did; the service goes on
    project.recipe("owl", "model: wan2.7-image-pro\nprompt: An owl.\nsize: 1K\nn: 1\n")
    done = await run(project, emulator, models=models, late_task_grace=3.0)
    made = await created(emulator)
    owl = done.job("owl")
    assert len(made) == 2, done.err
    assert owl.state == "unresolved" and made[1] in owl.error.candidates


def wire(model: str, prompt: str) -> dict:
    content = [{"text": prompt}]
    message = {"role": "user", "content": content}
    return {"model": model, "input": {"messages": [message]}, "parameters": {"n": 1, "size": "1K"}}
