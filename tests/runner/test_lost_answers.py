"""Lost submission answers: a job adopts a task only when it surely is its own, else it is
unresolved."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from click.testing import CliRunner
from PIL import Image
from runner_kit import KEY, SUBMIT_PATHS, Emulator, fast_models, make_project, run

from wanform.emulator import EmulatorConfig
from wanform.emulator.http.context import EMULATOR
from wanform.emulator.pytest_plugin import EmulatorThread
from wanform.runner.api.answers import allowed_images, disagreement, fixed_size
from wanform.runner.api.client import Answer, Timeouts
from wanform.runner.api.clock import ServiceClock
from wanform.runner.api.limits import Gates, resolve_limits
from wanform.runner.api.retries import RetryPolicy
from wanform.runner.cli import main
from wanform.runner.engine.journal import Journal
from wanform.runner.engine.states import UNRESOLVED, JobState, RunResult
from wanform.runner.engine.submission import Lost, Submitter, UnresolvedError
from wanform.runner.exits import Exit
from wanform.runner.recipes.check import validate_paths
from wanform.runner.reports.junit import junit_xml
from wanform.spec.models import MODELS

RECIPE = """\
    model: wan2.7-image
    prompt: {prompt}
    size: "{size}"
    n: 1
    seed: 5
    """
JOBS = {
    "fox": ("A red fox in the snow.", "1024*1024"),
    "graffiti": ("Graffiti on a brick wall.", "1280*960"),
    "lighthouse": ("A lighthouse at dusk.", "960*1280"),
    "teapot": ("A blue teapot on a table.", "1344*768"),
    "owl": ("An owl on a branch.", "768*1344"),
    "bridge": ("A stone bridge in fog.", "1152*896"),
    "kite": ("A kite over the dunes.", "896*1152"),
    "piano": ("An old piano in a hall.", "1280*1024"),
}
FAST = {name: replace(spec, submit_rps=50, max_in_flight=20) for name, spec in MODELS.items()}


def briefs(emulator: Emulator) -> dict:
    """What the emulator was asked to make, by task id."""
    state = emulator.runner.app[EMULATOR]  # type: ignore[attr-defined]  # runner is an AppRunner
    account = state.accounts.authenticate(f"Bearer {KEY}")
    return {task.task_id: task.brief for task in state.tasks.tasks(account)}


def assert_own_images(jobs, made: dict) -> None:
    """Every image a job kept was made for its own prompt, at its own size."""
    for job in jobs:
        prompt, size = JOBS[job.job]
        width, height = (int(side) for side in size.split("*"))
        if job.images:
            assert (made[job.task_id].prompt, made[job.task_id].size) == (prompt, size), job.job
        for image in job.images:
            with Image.open(image.file) as png:
                assert png.size == (width, height), job.job


def write_jobs(project, names) -> None:
    for name in names:
        prompt, size = JOBS[name]
        project.recipe(name, RECIPE.format(prompt=prompt, size=size))


async def test_answers_dropped_at_random_never_swap_images(project, emulators):
    """With a quarter of submission answers dropped, no job keeps an image made for another."""
    emulator = await emulators(models=FAST, seed=12)
    await emulator.fault(action="drop", when="after", endpoint="submit", probability=0.25)
    write_jobs(project, JOBS)
    done = await run(project, emulator, models=FAST, limits=resolve_limits(FAST, {}))
    dropped = [
        e for e in await emulator.requests() if e["path"] in SUBMIT_PATHS and not e["status"]
    ]
    assert len(dropped) >= 2
    assert_own_images(done.result.jobs, briefs(emulator))
    states = {j.state for j in done.result.jobs}
    assert states <= {"succeeded", "unresolved"}
    if "unresolved" in states:
        assert done.result.exit_code == Exit.FAILED


async def test_two_projects_on_one_key_never_take_each_others_tasks(tmp_path, emulators):
    """A project new to a key another project uses pays for nothing until told to: the other's
    task may be one its lost state made. Told to, a lost answer with the other's task in its
    window still leaves the job unresolved."""
    emulator = await emulators()
    other, mine = make_project(tmp_path / "other"), make_project(tmp_path / "mine")
    write_jobs(other, ["graffiti"])
    write_jobs(mine, ["fox"])
    assert (await run(other, emulator)).result.exit_code == Exit.OK
    [theirs] = await emulator.created()
    done = await run(mine, emulator)
    fox = done.job("fox")
    assert (fox.state, len(fox.images), done.result.exit_code) == ("unresolved", 0, Exit.FAILED)
    assert theirs in fox.error.message and "--resubmit-unresolved" in fox.error.line()
    assert await emulator.created() == [theirs]
    await emulator.fault(action="drop", when="after", prompt="fox", nth=1)
    lost = await run(mine, emulator, resubmit_unresolved=True)
    assert_own_images(lost.result.jobs, briefs(emulator))
    created = await emulator.created()
    assert lost.job("fox").state == "unresolved" and len(created) == 2
    assert all(task in lost.job("fox").error.message for task in created)
    again = await run(mine, emulator)
    assert again.job("fox").state == "unresolved" and await emulator.created() == created
    paid = await run(mine, emulator, resubmit_unresolved=True)
    assert paid.job("fox").state == "succeeded" and len(await emulator.created()) == 3
    assert_own_images(paid.result.jobs, briefs(emulator))


async def test_a_task_made_after_the_submission_timed_out_is_adopted_not_paid_again(
    project, emulators
):
    """The service answers a submission only after the runner stopped waiting, and makes its task
    then: the runner waits the grace past its own deadline before it looks, so it adopts that task
    instead of submitting again (it listed at once, found nothing and paid twice)."""
    models = fast_models(0.3)  # real seconds, so that the latency outlasts the read timeout
    emulator = await emulators(speed=1.0, models=models)
    await emulator.fault(action="latency", seconds=2.6, nth=1, endpoint="submit")
    write_jobs(project, ["fox"])
    done = await run(project, emulator, timeouts=Timeouts(connect=1.0, read=2.0), models=models)
    made = await emulator.created()
    assert (done.result.exit_code, len(made)) == (Exit.OK, 1), done.err
    assert done.job("fox").task_id == made[0] and "adopted task" in done.err


async def test_a_lone_candidate_that_differs_from_the_job_is_not_adopted(tmp_path, emulators):
    """The only task in the window was made for another project's request: unresolved, no
    image."""
    emulator = await emulators()
    other, mine = make_project(tmp_path / "other"), make_project(tmp_path / "mine")
    write_jobs(other, ["graffiti"])
    write_jobs(mine, ["fox"])
    assert (await run(other, emulator)).result.exit_code == Exit.OK
    # the fox submission's connection breaks before it makes a task: the graffiti task is alone
    await emulator.fault(action="drop", when="before", prompt="fox", nth=1)
    done = await run(mine, emulator)
    assert_own_images(done.result.jobs, briefs(emulator))
    fox = done.job("fox")
    assert (fox.state, len(fox.images), len(await emulator.created())) == ("unresolved", 0, 1)


async def test_an_image_of_another_size_than_the_job_asks_for_is_an_error(project, emulators):
    """A journal that names another job's task: its images fail the job and replace nothing."""
    emulator = await emulators()
    write_jobs(project, ["fox", "graffiti"])
    assert (await run(project, emulator)).result.exit_code == Exit.OK
    made = briefs(emulator)
    submitted = {
        made[e["task_id"]].prompt: (e["job"], e["task_id"])
        for e in project.journal()
        if e["event"] == "submitted"
    }
    fox_key, graffiti_task = submitted[JOBS["fox"][0]][0], submitted[JOBS["graffiti"][0]][1]
    with open(project.root / ".wanform" / "journal.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": "submitted", "job": fox_key, "task_id": graffiti_task}))
    done = await run(project, emulator)
    fox = done.job("fox")
    assert (fox.state, fox.error.code, list(fox.images)) == ("failed", "WrongResult", [])
    assert "image 1 is 1280*960, the job asks for 1024*1024" in fox.error.message
    with Image.open(project.out / "fox" / "fox-1.png") as png:
        assert png.size == (1024, 1024)
    assert done.result.exit_code == Exit.FAILED and len(await emulator.created()) == 2


def test_the_cli_reports_an_unresolved_job_and_resubmits_it_only_when_told(tmp_path, monkeypatch):
    """`wanform run` names the candidates and the choice, exits 3, leaves the job pending in
    `plan`, and pays only with --resubmit-unresolved (here: a project new to a key another
    project used, whose task it cannot tell from one its lost state made)."""
    server = EmulatorThread(EmulatorConfig(port=0, speed=100))
    base = server.start()
    env = {"DASHSCOPE_API_KEY": KEY}
    try:
        other, mine = make_project(tmp_path / "other"), make_project(tmp_path / "mine")
        write_jobs(other, ["graffiti"])
        write_jobs(mine, ["fox"])
        monkeypatch.chdir(other.root)
        assert (
            cli(
                "run", "graffiti.yaml", "--target", base, "--emulator-speed", "100", env=env
            ).exit_code
            == 0
        )
        monkeypatch.chdir(mine.root)
        run_fox = ("run", "fox.yaml", "--target", base, "--emulator-speed", "100")
        first, again = cli(*run_fox, env=env), cli(*run_fox, env=env)
        plan = cli("plan", "fox.yaml")
        paid = cli(*run_fox, "--resubmit-unresolved", env=env)
    finally:
        server.stop()
    (line,) = [line for line in first.stdout.splitlines() if line.startswith("unresolved")]
    assert (first.exit_code, again.exit_code, paid.exit_code) == (3, 3, 0), first.stdout
    assert line.count("candidates: ") == 1 and "--resubmit-unresolved" in line
    pending = [line.split()[:2] for line in plan.stdout.splitlines() if "fox.yaml::fox" in line]
    assert "1 unresolved" in first.stdout and pending == [["+", "new"]]
    assert "unresolved" in again.stdout and "succeeded" in paid.stdout


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(
        main, list(args), env={"DASHSCOPE_API_KEY": None, **(env or {})}, catch_exceptions=False
    )


VASE = """\
    model: wan2.5-i2i-preview
    prompt: Put the alarm clock next to the vase.
    inputs:
      - path: images/alarm-clock.png
      - path: images/table-vase.png
    size: "1280*720"
    n: 2
    """


def request_of(project, name: str, text: str):
    path = project.recipe(name, text)
    return validate_paths([str(path)], root=project.root).jobs[0].request


def test_a_task_answer_that_the_request_cannot_have_made_is_told_apart(project):
    """Too many images, another size, another orig_prompt: each is a reason not to adopt."""
    fox = request_of(project, "fox", RECIPE.format(prompt="A fox.", size="1024*1024"))
    vase = request_of(project, "vase", VASE)
    own = [{"url": "u", "orig_prompt": "Put the alarm clock next to the vase."}]
    assert disagreement(fox, {"usage": {"image_count": 1, "size": "1024*1024"}}) is None
    assert disagreement(fox, {"usage": {"image_count": 2, "size": "1024*1024"}}) == (
        "it made 2 images where the job allows 1"
    )
    assert disagreement(fox, {"usage": {"image_count": 1, "size": "1280*960"}}) == (
        "its images are 1280*960 where the job asks for 1024*1024"
    )
    assert disagreement(vase, {"output": {"results": own}, "usage": {"image_count": 1}}) is None
    other = [{"url": "u", "orig_prompt": "A fox."}]
    assert disagreement(vase, {"output": {"results": other}}) == "its prompt is not the job's"
    assert (allowed_images(vase), fixed_size(vase), fixed_size(fox)) == (
        2,
        (1280, 720),
        (1024, 1024),
    )


def test_junit_counts_an_unresolved_job_as_a_failure_naming_its_candidates():
    """An unresolved job is a JUnit failure of type Unresolved whose message names the tasks."""
    job = JobState("fox.yaml", "fox", "wan2.7-image", state=UNRESOLVED)
    job.error = UnresolvedError(["t1", "t2"], "2 unclaimed tasks of wan2.7-image were made")
    xml = junit_xml(RunResult("url", [job])).decode()
    assert 'failures="1"' in xml and 'type="Unresolved"' in xml and "t1, t2" in xml


class Listed:
    """A client whose task list holds the given entries, whose requests give up after 75 s, and
    whose service shares the runner's clock."""

    timeouts = Timeouts(connect=15.0, read=60.0)

    def __init__(self, entries: list[dict]) -> None:
        self.entries = entries
        self.clock = ServiceClock()
        now = time.time()
        self.clock.heard(format_datetime(datetime.fromtimestamp(now, UTC), usegmt=True), now, now)

    async def tasks(self, **params: str) -> Answer:
        return Answer({"data": self.entries, "total_page": 1}, 200)


def listed_submitter(entries: list[dict], journal: Journal) -> Submitter:
    """A submitter whose task list holds `entries`."""
    return Submitter(
        Listed(entries),  # type: ignore[arg-type]  # only tasks(), timeouts and clock are used
        Gates(resolve_limits(MODELS, {})),
        journal,
        RetryPolicy(),
        lambda error: None,
        asyncio.Event(),
        lambda error: None,
    )


async def test_only_tasks_made_within_a_submissions_window_are_candidates(tmp_path):
    """Tasks made before the submission or after it could no longer make one are not its
    candidates (on a service clock the runner shares); being no submission's of ours, they show
    another client on the account, so even the lone candidate is not taken."""
    sent = 1_000_000.0
    made = {"early": sent - 200, "in": sent + 30, "late": sent + 75 + 200}
    entries = [{"task_id": t, "gmt_create": int(at * 1000)} for t, at in made.items()]
    with Journal(tmp_path) as journal:
        submitter = listed_submitter(entries, journal)
        candidates, why = await submitter.find_lost("wan2.7-image", sent, sent + submitter.window)
        assert candidates == ["in"] and why is not None and "task early" in why
        submitter.windowed = False  # an emulator's clock has no upper bound
        candidates, _ = await submitter.find_lost("wan2.7-image", sent, sent + 75)
        assert candidates == ["in", "late"]


async def test_a_lone_candidate_another_lost_submission_may_have_made_is_not_adopted(tmp_path):
    """Two jobs' answers were lost (a run killed with both in the air) and one task was made: it
    is each job's one candidate, but may be either's, so neither takes it (found by bench/soak.py,
    where another job then adopted a task its own unresolved neighbour named)."""
    sent = 1_000_000.0
    entries = [{"task_id": "made", "gmt_create": int((sent + 1) * 1000)}]
    with Journal(tmp_path) as journal:
        for job in ("owl", "fox"):
            journal.write("submitting", job, model="wan2.7-image", at=sent, timeout=75.0)
        submitter = listed_submitter(entries, journal)
        for job in ("owl", "fox"):
            lost = Lost.journaled(journal.get(job))
            assert lost is not None
            with pytest.raises(UnresolvedError) as raised:
                await submitter.submit(job, "wan2.7-image", {}, lost)
            assert raised.value.candidates == ["made"], job
            assert journal.get(job).unresolved == ["made"], job  # type: ignore[union-attr]


async def test_a_lone_candidate_is_not_adopted_when_another_client_uses_the_key(tmp_path):
    """The account holds a task this project cannot have made (no submission of ours was in the
    air for its model then): another project or client shares the key, so the one task made in
    the lost submission's window may be theirs. Found by the soak under load: alpha adopted
    beta's wanx2.1 task and kept its picture under alpha's prompt."""
    sent = 1_000_000.0
    made = {"task_id": "made", "gmt_create": int((sent + 1) * 1000), "model_name": "wan2.7-image"}
    theirs = {
        "task_id": "theirs",
        "gmt_create": int((sent - 30) * 1000),
        "model_name": "wan2.6-image",
    }
    with Journal(tmp_path) as journal:
        journal.write("submitting", "fox", model="wan2.7-image", at=sent, timeout=75.0)
        submitter = listed_submitter([made, theirs], journal)
        lost = Lost.journaled(journal.get("fox"))
        assert lost is not None
        with pytest.raises(UnresolvedError) as raised:
            await submitter.submit("fox", "wan2.7-image", {}, lost)
        assert raised.value.candidates == ["made"]
        assert "another project or client" in raised.value.message
        assert journal.get("fox").unresolved == ["made"]  # type: ignore[union-attr]


async def test_tasks_our_own_unanswered_submissions_may_have_made_are_no_sign_of_another_client(
    tmp_path,
):
    """A task of another model that one of this run's own submissions, still unanswered, may have
    made is not taken for another client's: the lone candidate is adopted."""
    sent = 1_000_000.0
    made = {"task_id": "made", "gmt_create": int((sent + 1) * 1000), "model_name": "wan2.7-image"}
    ours = {"task_id": "ours", "gmt_create": int((sent + 2) * 1000), "model_name": "wan2.6-image"}
    with Journal(tmp_path) as journal:
        journal.write("submitting", "fox", model="wan2.7-image", at=sent, timeout=75.0)
        journal.write("submitting", "owl", model="wan2.6-image", at=sent + 1, timeout=75.0)
        submitter = listed_submitter([made, ours], journal)
        lost = Lost.journaled(journal.get("fox"))
        assert lost is not None
        submitted = await submitter.submit("fox", "wan2.7-image", {}, lost)
        assert (submitted.task_id, submitted.adopted) == ("made", True)
