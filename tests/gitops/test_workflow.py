"""The example workflow's apply job without GitHub: its own shell steps, in bash, in fresh clones of
a git repository the test makes, against an emulator the test starts.

GitHub's part is played as little as possible (github_steps). Each `uses:` step is one of USES,
done by the test as said there; the only expression a step's `env:` holds is the secret key. The
target is the SDK's `DASHSCOPE_HTTP_BASE_URL`, set to the emulator, so the run step's command is
the workflow's own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from github_steps import BRANCH, bash, git, github_env
from runner_kit import SUBMIT_PATHS

from wanform.emulator import EmulatorConfig
from wanform.emulator.pytest_plugin import (
    DEFAULT_SPEED,
    EmulatorThread,
    WanformEmulator,
    use_emulator,
)
from wanform.spec.emulator.wire import TASKS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text())
# What the test does for each action the apply job uses (named without its version).
USES = {
    "actions/checkout": "the test's own `git clone` of main",
    "actions/setup-python": "the test's own Python",
    "wanform/wanform": "the test's `wanform` on PATH (test_action.py tests the action)",
    "actions/upload-artifact": "nothing: there is no artifact store here",
}
MODEL = "wan2.7-image"
PROJECT = {
    "wanform.yaml": "recipes: [recipes/**/*.yaml]\ndefaults:\n  watermark: false\nout: out\n",
    ".gitignore": ".wanform/\n",  # what a project keeps out of git: this machine's run state
    "recipes/fox.yaml": f"model: {MODEL}\nprompt: A red fox in the snow.\nsize: 1K\nn: 1\n"
    "matrix:\n  seed: [1, 2]\n",
    "recipes/city/bridge.yaml": f"model: {MODEL}\nprompt: A bridge at dusk.\nsize: 1K\nn: 1\n",
}
JOBS = 3
SLOW_SPEED = 3.0  # wan2.7-image's 30 s tasks take 10 s: a loaded machine still signals in time
WAIT_SECONDS = 60  # a bound on waiting for the emulator and the runner, never a target


@pytest.fixture(scope="module")
def server():
    thread = EmulatorThread(EmulatorConfig(host="127.0.0.1", port=0, speed=DEFAULT_SPEED))
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def emulator(server: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> WanformEmulator:
    """A reset emulator; the environment points at it (`DASHSCOPE_HTTP_BASE_URL`)."""
    return use_emulator(server, monkeypatch)


@pytest.fixture
def slow_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[WanformEmulator]:
    """An emulator whose tasks run for seconds, so a signal reaches the run while they do."""
    thread = EmulatorThread(EmulatorConfig(host="127.0.0.1", port=0, speed=SLOW_SPEED))
    thread.start()
    yield use_emulator(thread, monkeypatch)
    thread.stop()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository whose main holds the project: wanform.yaml and three jobs' recipes."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch", BRANCH, str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", str(bare), str(seed))
    for name, text in PROJECT.items():
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(text)
    git(seed, "add", ".")
    git(seed, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "recipes")
    git(seed, "push", "--quiet", "origin", BRANCH)
    return bare


def checkout(origin: Path, name: str) -> Path:
    """actions/checkout with `ref:` the branch: a fresh clone of main as it is now."""
    clone = origin.parent / name
    git(origin.parent, "clone", "--quiet", "--branch", BRANCH, str(origin), str(clone))
    return clone


def apply_steps() -> tuple[list[dict], list[dict]]:
    """The apply job's `run:` steps: those GitHub runs in turn, and those it runs always (after a
    failure, a kill or a cancellation too)."""
    job = WORKFLOW["jobs"]["apply"]
    assert WORKFLOW["defaults"]["run"]["shell"] == "bash"
    assert {s["uses"].partition("@")[0] for s in job["steps"] if "uses" in s} <= USES.keys()
    runs = [s for s in job["steps"] if "run" in s]
    always = [s for s in runs if "always()" in s.get("if", "")]
    return [s for s in runs if s not in always], always


def step(
    run: dict, clone: Path, emulator: WanformEmulator, **popen: object
) -> subprocess.Popen[str]:
    """Start one workflow step in a clone, as GitHub would with the key in its secret store."""
    env = github_env(clone)
    args = bash(run, env, {"secrets.DASHSCOPE_API_KEY": emulator.api_key})
    return subprocess.Popen(
        args,
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=WAIT_SECONDS)
    return proc.returncode, out


def run_steps(steps: list[dict], clone: Path, emulator: WanformEmulator) -> None:
    for run in steps:
        code, out = finish(step(run, clone, emulator))
        assert code == 0, out


def submissions(emulator: WanformEmulator) -> list[str]:
    """The task ids of every submission the emulator answered with a task."""
    return [
        e["task_id"]
        for e in emulator.admin.requests()
        if e["path"] in SUBMIT_PATHS and e["task_id"]
    ]


def journaled(clone: Path) -> list[dict]:
    path = clone / ".wanform" / "journal.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.endswith("}")]


def statuses(emulator: WanformEmulator) -> dict[str, str]:
    """Every task the emulator made, by id, with its status now (the admin API's task list)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    with opener.open(emulator.admin.root_url + TASKS + "?limit=100") as answer:
        return {t["task_id"]: t["status"] for t in json.load(answer)["tasks"]}


def await_submissions(
    clone: Path, emulator: WanformEmulator, proc: subprocess.Popen, status: str
) -> None:
    """Wait until the emulator has made every job's task, each has `status`, and the run has
    journaled its id."""
    deadline = time.monotonic() + WAIT_SECONDS
    while (
        len(submissions(emulator)) < JOBS
        or sum(e["event"] == "submitted" for e in journaled(clone)) < JOBS
        or set(statuses(emulator).values()) != {status}
    ):
        assert proc.poll() is None, finish(proc)[1]
        assert time.monotonic() < deadline, "the run made no task for every job"
        time.sleep(0.05)


def shown(origin: Path, path: str) -> str:
    return git(origin, "show", f"{BRANCH}:{path}")


def interrupted_then_finished(
    origin: Path, emulator: WanformEmulator, stop: signal.Signals, code: int, status: str
) -> tuple[dict[str, str], dict[str, dict]]:
    """Clone A's run gets `stop` once every job's task is made and has `status`, and the
    workflow's always() steps commit what they commit; a fresh clone B then runs the apply steps.
    Returns the emulator's tasks (id: status) and main's lock entries."""
    runs, always = apply_steps()
    first = checkout(origin, "a")
    proc = step(runs[0], first, emulator, start_new_session=True)
    await_submissions(first, emulator, proc, status)
    os.killpg(proc.pid, stop)
    assert finish(proc)[0] == code
    partial = first / "out" / "fox" / ".fox-seed-1-1.png.k1lled00.part"  # a download cut short
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"\x89PNG")
    run_steps(always, first, emulator)
    committed = git(origin, "ls-tree", "-r", "--name-only", BRANCH).split()
    assert ".wanform/journal.jsonl" in committed
    assert not any(p.endswith(".part") for p in committed)
    emulator.admin.release(MODEL)  # (held tasks only) let them run
    run_steps(runs + always, checkout(origin, "b"), emulator)
    return statuses(emulator), json.loads(shown(origin, "wanform.lock"))["jobs"]


def assert_committed(origin: Path, emulator: WanformEmulator) -> None:
    """Main holds the journal (and nothing else of .wanform/) and every job's image, not the key."""
    tracked = git(origin, "ls-tree", "-r", "--name-only", BRANCH).split()
    assert [p for p in tracked if p.startswith(".wanform/")] == [".wanform/journal.jsonl"]
    assert sum(p.endswith(".png") for p in tracked) == JOBS
    leaked = subprocess.run(["git", "grep", "-F", emulator.api_key, BRANCH], cwd=origin)
    assert leaked.returncode == 1  # no match: the key is in no file the workflow committed


def test_a_killed_apply_is_finished_by_a_fresh_clone_and_billed_once(
    origin: Path, emulator: WanformEmulator
):
    """Killed (SIGKILL) with every job's task made, an apply is finished by a fresh clone: one
    task per job, each SUCCEEDED once, the one main's lock names for it."""
    emulator.admin.hold(MODEL)  # the tasks stay PENDING: the run cannot finish before the kill
    made, lock = interrupted_then_finished(
        origin, emulator, signal.SIGKILL, -signal.SIGKILL, "PENDING"
    )
    assert sorted(lock) == [
        "recipes/city/bridge.yaml::bridge",
        "recipes/fox.yaml::fox[seed=1]",
        "recipes/fox.yaml::fox[seed=2]",
    ]
    assert sorted(made) == sorted(entry["task_id"] for entry in lock.values())
    assert set(made.values()) == {"SUCCEEDED"}
    assert_committed(origin, emulator)


def test_a_cancelled_apply_is_finished_by_a_fresh_clone_and_billed_once(
    origin: Path, slow_emulator: WanformEmulator
):
    """Cancelled (GitHub sends SIGINT) while every job's task runs, so none can be cancelled: the
    run exits 130, and a fresh clone polls those tasks instead of paying for them again."""
    made, lock = interrupted_then_finished(origin, slow_emulator, signal.SIGINT, 130, "RUNNING")
    assert len(lock) == JOBS
    assert sorted(made) == sorted(entry["task_id"] for entry in lock.values())
    assert set(made.values()) == {"SUCCEEDED"}
    assert_committed(origin, slow_emulator)


def run_job(clone: Path, emulator: WanformEmulator, job: str, key: str = "") -> None:
    """`wanform run --job JOB` in a clone, as an apply whose recipes had only that job new (with
    `key` instead of the emulator's own)."""
    env = {**github_env(clone), "DASHSCOPE_API_KEY": key or emulator.api_key}
    done = subprocess.run(
        ["wanform", "run", "--job", job], cwd=clone, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("earlier", [False, True], ids=["first-runs", "after-a-run"])
def test_two_applies_push_and_the_loser_rebases_onto_the_winner(
    origin: Path, emulator: WanformEmulator, earlier: bool
):
    """Two clones each run a job (the first's journal ends in a line a kill cut short) and run the
    always() steps: the second push is rejected, rebases (every whole journal line and lock entry
    of both kept, whether both added the files or both changed them) and succeeds; a fresh clone
    then has nothing left to run that either ran."""
    _, always = apply_steps()
    if earlier:
        run_job(checkout(origin, "z"), emulator, "fox[seed=2]")
        run_steps(always, origin.parent / "z", emulator)
    clones = [checkout(origin, name) for name in ("x", "y")]
    # racing applies on one key would meet each other's unclaimed tasks (and leave the second's
    # job unresolved, as they should): each has a key of its own, so what races is the push
    for clone, job in zip(clones, ("bridge", "fox[seed=1]"), strict=True):
        run_job(clone, emulator, job, key=f"{emulator.api_key}-{clone.name}")
    with open(clones[0] / ".wanform" / "journal.jsonl", "a") as journal:
        journal.write('{"event": "submitting", "job": "cut short by a kill", "at')
    pushed = [finish(step(always[0], clone, emulator)) for clone in clones]
    assert [code for code, _ in pushed] == [0, 0], pushed
    assert "[rejected]" in pushed[1][1] and "[rejected]" not in pushed[0][1]
    lock = json.loads(shown(origin, "wanform.lock"))["jobs"]
    assert len(lock) == (3 if earlier else 2)
    assert sorted(entry["task_id"] for entry in lock.values()) == sorted(submissions(emulator))
    merged = shown(origin, ".wanform/journal.jsonl").splitlines()
    for clone in clones:
        lines = (clone / ".wanform" / "journal.jsonl").read_text().splitlines()
        assert {line for line in lines if line.endswith("}")} <= set(merged)
    fresh = checkout(origin, "fresh")
    plan = subprocess.run(  # for the target the applies ran on, as the workflow's plan is
        ["wanform", "plan", "--detailed-exitcode"],
        cwd=fresh,
        env={**github_env(fresh), "DASHSCOPE_API_KEY": emulator.api_key},
        text=True,
        capture_output=True,
    )
    assert plan.returncode == (0 if earlier else 2), plan.stdout + plan.stderr
    assert "bridge" not in plan.stdout and "seed=1" not in plan.stdout
