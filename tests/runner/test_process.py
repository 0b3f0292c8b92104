"""`wanform run` as a process against an emulator in the test: Ctrl-C, and kill -9 then a rerun."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter

import pytest
from runner_kit import KEY, SEEDS, SHORT_TIMEOUTS, SUBMIT_PATHS, Project

from wanform.emulator.http.context import EMULATOR
from wanform.runner.exits import Exit

# `wanform` whose requests give up after 3 s, so a rerun waits out a killed run's request quickly


async def wanform(project: Project, *args: str, short: bool = False) -> asyncio.subprocess.Process:
    env = {**os.environ, "DASHSCOPE_API_KEY": KEY}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *(("-c", SHORT_TIMEOUTS) if short else ("-m", "wanform.runner.cli")),
        "run",
        *args,
        cwd=project.root,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def journaled(
    project: Project, proc: asyncio.subprocess.Process, event: str, count: int
) -> None:
    """Wait until the run's journal holds `count` entries of `event`; fail if the run ends first."""
    path = project.root / ".wanform" / "journal.jsonl"
    while (
        not path.exists() or path.read_text(encoding="utf-8").count(f'"event": "{event}"') < count
    ):
        assert proc.returncode is None, (await proc.stderr.read()).decode()
        await asyncio.sleep(0.02)


async def tasks_made(emulator, count: int) -> None:
    """Return once the emulator has made `count` tasks (callers bound the wait)."""
    while len(await created(emulator)) < count:
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("sig", "code", "verdict", "throttled"),
    [
        (signal.SIGINT, Exit.INTERRUPTED, "interrupted", False),
        (signal.SIGTERM, Exit.TERMINATED, "terminated", False),
        (signal.SIGINT, Exit.INTERRUPTED, "interrupted", True),
    ],
    ids=["SIGINT", "SIGTERM", "SIGINT-cancels-throttled-once"],
)
async def test_a_signal_cancels_pending_tasks_and_exits_with_its_code(
    project, emulators, sig, code, verdict, throttled
):
    """SIGINT (or SIGTERM) while tasks queue behind the service's cap: PENDING ones are
    cancelled, exit 130 (or 143); a cancel answered 429 is sent again (it was given up, and the
    PENDING task left to run and bill)."""
    # 30 s tasks; 5 run at once, the rest wait PENDING
    emulator = await emulators(speed=1.0, queue_over_cap=True)
    if throttled:
        await emulator.fault(action="error", endpoint="cancel", code="Throttling", times=8)
    project.recipe("foxes", SEEDS)
    proc = await wanform(
        project, "foxes.yaml", "--target", emulator.base_url, "--max-in-flight", "8"
    )
    await asyncio.wait_for(journaled(project, proc, "submitted", 8), 20)
    proc.send_signal(sig)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == code, err.decode()
    cancels = Counter(
        e["status"] for e in await emulator.requests() if e["path"].endswith("/cancel")
    )
    shown = (cancels, out.decode(), err.decode())  # it once said 2, under four workers
    assert out.decode().startswith(
        f"{verdict}: 3 PENDING tasks were cancelled; rerun `wanform run` to resume"
    ), shown
    # 3 were PENDING; the 5 RUNNING ones cannot be cancelled
    assert cancels == Counter({200: 3, 400: 5, **({429: 8} if throttled else {})}), shown
    assert [e["event"] for e in project.journal()].count("canceled") == 3
    assert KEY.encode() not in out + err + project.written()


async def created(emulator) -> list[str]:
    return [
        e["task_id"]
        for e in await emulator.requests()
        if e["path"] in SUBMIT_PATHS and e["task_id"]
    ]


@pytest.mark.parametrize("made_before_rerun", [True, False])
async def test_kill_9_then_rerun_submits_every_job_exactly_once(
    project, emulators, made_before_rerun
):
    """Killed with four tasks running and a fifth submission unanswered, rerun (before or after
    that submission makes its task): one task a job."""
    emulator = await emulators(speed=30.0)  # 1 s tasks
    # the fifth submission takes two seconds to make its task, within the 3 s request timeout
    fifth = await emulator.fault(action="latency", seconds=60, nth=5)
    project.recipe("foxes", SEEDS)
    args = ("foxes.yaml", "--target", emulator.base_url, "--emulator-speed", "30", "-o", "json")
    first = await wanform(project, *args, short=True)
    await asyncio.wait_for(journaled(project, first, "submitting", 5), 20)
    # journaled before it is sent: the kill comes once the fifth request is in its latency
    await asyncio.wait_for(emulator.fired(fifth), 20)
    first.kill()
    out1, err1 = await first.communicate()
    if made_before_rerun:  # the emulator makes the fifth task after its latency
        await asyncio.wait_for(tasks_made(emulator, 5), 30)
    first_tasks = {e["job"]: e["task_id"] for e in project.journal() if e["event"] == "submitted"}
    second = await wanform(project, *args, short=True)
    out2, err2 = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == Exit.OK, err2.decode()
    report = json.loads(out2)
    tasks = await created(emulator)
    assert len(tasks) == len(set(tasks)) == 10
    assert sorted(j["task_id"] for j in report["jobs"]) == sorted(tasks)
    assert len(first_tasks) == 4 and err2.decode().count("adopted task") == 1
    assert all(
        len(j["images"]) == 1 and os.path.isfile(project.root / j["images"][0]["file"])
        for j in report["jobs"]
    )
    finished = {e["job"]: e["task_id"] for e in project.journal() if e["event"] == "finished"}
    assert len(finished) == 10 and all(finished[job] == task for job, task in first_tasks.items())
    assert KEY.encode() not in out1 + err1 + out2 + err2 + project.written()


async def test_a_rerun_never_swaps_the_tasks_of_two_killed_submissions(project, emulators):
    """Killed with two submissions unanswered whose tasks are made in the other order, rerun:
    neither job takes the other's task; both are unresolved."""
    emulator = await emulators(speed=50.0)
    # one submission a second: the bridge first (alone, as a run's first), the fox, the graffiti
    await emulator.fault(action="latency", seconds=125, prompt="fox")  # sent second, made last
    third = await emulator.fault(action="latency", seconds=25, prompt="graffiti")
    for name in ("bridge", "fox", "graffiti"):
        project.recipe(name, f"model: wan2.7-image\nprompt: a {name}\nsize: '1024*1024'\nn: 1\n")
    args = (".", "--target", emulator.base_url, "--emulator-speed", "50", "--submit-rps", "1")
    first = await wanform(project, *args, short=True)
    await asyncio.wait_for(journaled(project, first, "submitting", 3), 20)
    # killed once the third request is in its half-second latency, before it is answered
    await asyncio.wait_for(emulator.fired(third), 20)
    first.kill()
    await first.communicate()
    await asyncio.wait_for(tasks_made(emulator, 3), 30)
    second = await wanform(project, *args, "-o", "json", short=True)
    out, err = await asyncio.wait_for(second.communicate(), 60)
    jobs = {j["job"]: j for j in json.loads(out)["jobs"]}
    state = emulator.runner.app[EMULATOR]  # type: ignore[attr-defined]  # an AppRunner
    account = state.accounts.authenticate(f"Bearer {KEY}")
    made = {task.task_id: task.brief.prompt for task in state.tasks.tasks(account)}
    for name, job in jobs.items():
        assert not job["images"] or made[job["task_id"]] == f"a {name}", err.decode()
    assert (jobs["fox"]["status"], jobs["graffiti"]["status"]) == ("unresolved", "unresolved")
    assert len(made) == 3 and second.returncode == Exit.FAILED
