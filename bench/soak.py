"""Crash-and-fault soak: two projects sharing one API key run N jobs against a faulty emulator
whose clock is off the machine's, `wanform run` killed (SIGKILL, SIGTERM or SIGINT) at random
moments, its local state harmed between runs, and rerun until it finishes; then an audit.

Run: python bench/soak.py [--jobs 60] [--kills 10] [--seed 1] [--speed 50] [--faults 1]
     [--skew 600] [--keep DIR] [-v]

The emulator runs in this process (its task table is the audit's ground truth) on a real socket at
SPEED times DashScope's durations, its clock SKEW seconds ahead of the machine's (behind when
negative), with the fault rules of `scenario()`: 429s and 5xx answers,
submission answers dropped after the task was made, FAILED and partial tasks, downloads cut off
halfway, latency. Jobs are spread over every model; each recipe's prompt is unique, and each job's
seed within its recipe, so every task the emulator made names the job that sent it. Each project
runs `wanform run` as its own process (requests time out after a few seconds, so a rerun waits out
a killed run's unanswered submission quickly). Each of the K kills goes to a project picked by the
seeded dice, with a seeded share of the work left: its run dies once its journal has grown by that
share of the lines it would write (before the first line, at that share of its start-up), by
the signal the dice pick (SIGKILL most often; SIGTERM and SIGINT end it in order). Before the next
run the dice may harm what the killed run left, as crashes, `git clean -fdx` and fresh CI
machines do (`HARMS`): the journal emptied or NUL-filled, `.wanform/` deleted, or a fresh clone
(`.wanform/`, the lock and `out/` gone). A project whose run ends before its kill is done: its other
kills are not delivered (the printed run count says how many were). Each project is then rerun,
unkilled, until a run ends with exit 0 or 3 (at most SETTLE_RUNS times). Every run prunes
(`--prune`), and a canary file sits in each project and beside it.

Printed counts and how they are measured (every count but jobs and submissions should be 0):
  jobs           jobs of both projects, as `wanform validate` expands the recipes
  submissions    tasks the emulator made (one per accepted submission)
  duplicates     billed tasks (not FAILED nor CANCELED) of a job that it neither used nor names as
                 an unresolved job's candidates, and that did not end partial before a new
                 submission (a partial job may be rerun knowingly): paid for nothing known
  wrong images   result files whose pixels are no image of a task made for the job, or whose
                 embedded prompt is not the job's
  no state       jobs neither succeeded (with their files), failed, partial, nor unresolved naming
                 their candidates, by the last run's report and the lock (see STATES)
  corrupt files  images Pillow cannot verify and decode, sidecars or locks that are not JSON
  leftover files temporaries (`*.part`, `*.tmp`) anywhere in either project
  tracebacks     runs whose stderr holds a Python traceback
  hung runs      runs still going after RUN_TIMEOUT seconds (killed, and counted)
  deleted outside canary files outside the output folders that are gone or changed
Exits 1 when any of these but jobs and submissions is not 0. `--keep DIR` leaves the projects in
DIR with `emulator.json` beside them: every task the emulator made, every request it heard, and
its clock against real time (each run's `began`), to trace a finding through.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import struct
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wanform.emulator import EmulatorConfig, start  # noqa: E402
from wanform.emulator.http.context import EMULATOR  # noqa: E402
from wanform.emulator.images.painter import paint  # noqa: E402
from wanform.emulator.state.tasks import Task  # noqa: E402
from wanform.runner.recipes.check import validate_paths  # noqa: E402
from wanform.spec.models import TaskStatus  # noqa: E402

KEY = "sk-wanform-soak-0123456789abcdef"  # both projects: one account, as CI shards share one
# How a run reports a job (its report's `status`, or what its lock entry says) -> the soak's state.
# Keep every state name the runner may use here: a job whose status is not a key is "in no state".
STATES = {
    "succeeded": "succeeded",
    "skipped": "succeeded",  # done by an earlier run, its files intact
    "complete": "succeeded",
    "partial": "partial",
    "incomplete": "partial",
    "failed": "failed",
    "unresolved": "unresolved",
}
TARGETS = (
    "duplicates",
    "wrong images",
    "no state",
    "corrupt files",
    "leftover files",
    "tracebacks",
    "hung runs",
    "deleted outside",
)
# what the dice may do to a project's state between a killed run and the next
HARMS = ("none", "none", "emptied", "nul-filled", "no .wanform", "fresh clone")
SIGNALS = (signal.SIGKILL, signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
CANARY = "canary.txt"
TEMP_SUFFIXES = (".part", ".tmp")
RUN_TIMEOUT = 120.0  # seconds one `wanform run` may take before it counts as hung
SETTLE_RUNS = 4  # unkilled reruns a project gets to finish after its kills
# `wanform` whose requests give up after 1 + 3 s, so a rerun waits out a killed run's unanswered
# submission (the runner waits until it can no longer make a task) in seconds, not 75 s
WANFORM = (
    "from wanform.runner.api.client import Timeouts; from wanform.runner.engine import launch; "
    "launch.execute.__defaults__ = ('.', Timeouts(connect=1.0, read=3.0), launch.MODELS); "
    "from wanform.runner.console import entry; entry()"
)
STARTUP_SECONDS = 1.0  # about how long `wanform run` takes to send its first request
KILL_POLL = 0.01  # seconds between looks at a run's journal

# One recipe per kind, in turn; `{n}` is 1 or 2 by the dice, the sizes are those the job fixes.
KINDS = (
    "model: wan2.7-image\nsize: '1024*1024'\nn: {n}\n",
    "model: wan2.7-image-pro\nsize: '1024*1024'\nn: 1\n",
    "model: wan2.7-image\nsize: 1K\nenable_sequential: true\nn: 3\n",
    "model: wan2.6-image\ninputs:\n  - path: images/portrait.png\nsize: '1024*1024'\nn: {n}\n",
    "model: wan2.5-i2i-preview\ninputs:\n  - path: images/alarm-clock.png\n"
    "  - path: images/table-vase.png\nsize: '1024*1024'\nn: 1\n",
    "model: wanx2.1-imageedit\nfunction: colorization\n"
    "inputs:\n  - path: images/grayscale-leaves.jpg\nn: 1\n",
)


def scenario(speed: float, scale: float = 1.0) -> list[dict]:
    """The mixed fault rules, each rule's probability times `scale` (at most 1); latencies are
    virtual seconds, so real ones are the same at any speed."""
    rules = [
        {"action": "latency", "endpoint": "any", "probability": 0.15, "seconds": 0.8 * speed},
        # a submission a killed run sent, still making its task while the rerun starts
        {"action": "latency", "endpoint": "submit", "probability": 0.05, "seconds": 2.5 * speed},
        {
            "action": "error",
            "endpoint": "submit",
            "code": "Throttling.RateQuota",
            "probability": 0.08,
        },
        {
            "action": "error",
            "endpoint": ["task", "list"],
            "code": "Throttling",
            "probability": 0.04,
        },
        {"action": "error", "endpoint": "any", "code": "InternalError", "probability": 0.04},
        {"action": "drop", "endpoint": "submit", "when": "after", "probability": 0.08},
        {"action": "drop", "endpoint": "task", "probability": 0.03},
        {"action": "fail", "code": "InternalError", "probability": 0.06},
        {"action": "partial", "code": "InternalError.Timeout", "probability": 0.06},
        {"action": "partial", "code": "DataInspectionFailed", "probability": 0.03},
        {"action": "cut", "probability": 0.08},
    ]
    return [dict(rule, probability=min(1.0, rule["probability"] * scale)) for rule in rules]


@dataclass(frozen=True)
class Settings:
    jobs: int = 60
    kills: int = 10
    seed: int = 1
    speed: float = 50.0
    faults: float = 1.0  # scales every fault rule's probability
    skew: float = 600.0  # seconds the emulator's clock is ahead of the machine's


@dataclass
class Project:
    """One project folder and what its runs did."""

    name: str
    root: Path
    jobs: int = 0
    runs: list[dict] = field(default_factory=list)  # exit code, killed, hung, seconds
    last_report: dict | None = None
    tracebacks: int = 0
    # tasks any run's report named as an unresolved job's candidates, by (recipe, job): the user
    # was told of them
    named: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))

    @property
    def finished(self) -> bool:
        return bool(self.runs) and self.runs[-1]["exit"] in (0, 3)


@dataclass
class Audit:
    counts: Counter = field(default_factory=Counter)
    states: Counter = field(default_factory=Counter)  # each job's final state, "none" for none
    details: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, what: str, detail: str) -> None:
        self.counts[what] += 1
        self.details[what].append(detail)

    def failed(self) -> bool:
        return any(self.counts[t] for t in TARGETS)


def write_projects(base: Path, settings: Settings) -> list[Project]:
    """Two projects, the jobs dealt between them, recipes of every kind (some with two seeds)."""
    rng = random.Random(f"{settings.seed}/recipes")
    projects = [Project(name, base / name) for name in ("alpha", "beta")]
    for project in projects:
        shutil.copytree(REPO / "recipes" / "images", project.root / "images")
        (project.root / CANARY).write_text(f"{project.name}: wanform never wrote me\n")
    (base / CANARY).write_text("beside the projects: wanform never wrote me\n")
    jobs = 0
    serial = 0
    while jobs < settings.jobs:
        project = projects[serial % 2]
        kind = KINDS[(serial // 2) % len(KINDS)]
        seeds = rng.sample(range(1, 10_000), min(rng.choice((1, 1, 2)), settings.jobs - jobs))
        name = f"r{serial:03d}"
        text = kind.format(n=rng.choice((1, 2)))
        text += f"prompt: 'soak {project.name} {name}: a red fox under a lamp, flat colours'\n"
        text += f"seed: {seeds[0]}\n" if len(seeds) == 1 else f"matrix:\n  seed: {seeds}\n"
        (project.root / f"{name}.yaml").write_text(text, encoding="utf-8")
        jobs += len(seeds)
        project.jobs += len(seeds)
        serial += 1
    return projects


def job_table(project: Project) -> dict[tuple[str, str], dict]:
    """The project's jobs by (recipe file, job name): their values, as `wanform` expands them."""
    validation = validate_paths([str(project.root)], root=project.root)
    problems = [str(f.problem) for f in validation.report.errors()]
    assert not problems, problems
    return {
        (os.path.basename(c.job.recipe.file), c.job.name): c.job.values for c in validation.jobs
    }


# Journal lines a rerun still writes for a job, by the last event its journal holds (about):
# a new submission writes submitting, submitted and finished; a journaled task only finished.
OWED = {"submitted": 1, "finished": 0, "unresolved": 0}
OWED_AFRESH = 3


def journal_lines(project: Project) -> int:
    with contextlib.suppress(FileNotFoundError):
        return (project.root / ".wanform" / "journal.jsonl").read_bytes().count(b"\n")
    return 0


def journal_events(project: Project) -> tuple[int, int]:
    """Lines in the project's journal, and about how many more a run that finishes its jobs
    would write."""
    path = project.root / ".wanform" / "journal.jsonl"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return 0, OWED_AFRESH * project.jobs
    last: dict[str, dict] = {}
    for line in lines:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            entry = json.loads(line)
            last[entry["job"]] = entry
    owed = OWED_AFRESH * max(0, project.jobs - len(last))
    for entry in last.values():
        failed = entry["event"] == "finished" and entry.get("status") != "SUCCEEDED"
        owed += OWED_AFRESH if failed else OWED.get(entry["event"], OWED_AFRESH)
    return len(lines), owed


def due(kill: float, owed: int, events: int, started: float) -> bool:
    """Whether a run planned to die at `kill` (a share of the `owed` events) is due: after that
    many events, or, when that is none, that share of its start-up."""
    share = kill * (owed + 1)
    if share < 1:
        return time.monotonic() - started >= share * STARTUP_SECONDS
    return events >= int(share)


@dataclass(frozen=True)
class Kill:
    """When a run dies (a share of the work it has left), by which signal, and what is done to
    its state before the next run."""

    share: float
    signal: signal.Signals = signal.SIGKILL
    harm: str = "none"


def harm(project: Project, how: str) -> None:
    """Damage the project's state as a crash, `git clean -fdx` or a fresh CI machine does."""
    state = project.root / ".wanform"
    journal = state / "journal.jsonl"
    if how == "emptied" and journal.exists():
        journal.write_bytes(b"")
    elif how == "nul-filled" and journal.exists():
        journal.write_bytes(b"\0" * journal.stat().st_size)
    elif how in ("no .wanform", "fresh clone"):
        shutil.rmtree(state, ignore_errors=True)
    if how == "fresh clone":
        (project.root / "wanform.lock").unlink(missing_ok=True)
        shutil.rmtree(project.root / "out", ignore_errors=True)


async def wanform_run(
    project: Project, base_url: str, speed: float, kill: Kill | None, *extra: str
) -> None:
    """One `wanform run` of the project. With `kill`, signal it once its journal has grown by
    that share of the lines the run would write, so kills land in every phase of a run:
    start-up, submissions, polling, downloads."""
    env = {**os.environ, "DASHSCOPE_API_KEY": KEY}
    env.pop("DASHSCOPE_HTTP_BASE_URL", None)
    args = (".", "--target", base_url, "--emulator-speed", str(speed), "--prune", "-o", "json")
    args += extra
    lines, owed = journal_events(project)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WANFORM,
        "run",
        *args,
        cwd=project.root,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    communicate = asyncio.ensure_future(proc.communicate())
    killed = hung = False
    while not communicate.done():
        await asyncio.wait([communicate], timeout=KILL_POLL)
        if time.monotonic() - started > RUN_TIMEOUT:
            hung = True
        elif kill is None or not due(kill.share, owed, journal_lines(project) - lines, started):
            continue
        killed = not hung
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL if hung or kill is None else kill.signal)
        break
    out, err = await communicate
    run = {
        "kill": None if kill is None else kill.share,
        "signal": None if kill is None else kill.signal.name,
        "harm": None if kill is None else kill.harm,
        "events": journal_lines(project) - lines,
        "owed": owed,
        "exit": proc.returncode,
        "killed": killed,
        "hung": hung,
        "seconds": round(time.monotonic() - started, 2),
        "began": round(time.time() - (time.monotonic() - started), 3),  # epoch, for `--keep`
    }
    project.runs.append(run)
    if b"Traceback (most recent call last)" in err:
        project.tracebacks += 1
        run["stderr"] = err.decode(errors="replace")[-2000:]
    # a run the signal reached after it had ended, or that a SIGINT or SIGTERM stopped in order,
    # printed its report too: the candidates it names were shown to the user
    with contextlib.suppress(ValueError):
        report = json.loads(out)
        for job in report.get("jobs") or []:
            key = (os.path.basename(job["recipe"]), job["job"])
            project.named[key].update(candidates(job))
        if not killed and not hung:
            project.last_report = report


async def drive(project: Project, base_url: str, speed: float, kills: list[Kill]) -> None:
    """Run the project, killing its runs at the planned moments (and harming what they left),
    then until one run finishes; a run that leaves jobs unresolved is followed by one that pays
    past their candidates, as a user told of them would."""
    for kill in kills:
        await wanform_run(project, base_url, speed, kill)
        if project.finished:
            break
        harm(project, kill.harm)
    for _ in range(SETTLE_RUNS):
        if project.finished:
            break
        await wanform_run(project, base_url, speed, None)
    if project.finished and project.runs[-1]["exit"] == 3:
        await wanform_run(project, base_url, speed, None, "--resubmit-unresolved")


def kill_plan(settings: Settings) -> list[list[Kill]]:
    """For each project, how its successive runs die: a share of the work each has left, the
    signal, and the harm done to its state before the next run."""
    rng = random.Random(f"{settings.seed}/kills")
    plan: list[list[Kill]] = [[], []]
    for _ in range(settings.kills):
        who, share = rng.randrange(2), round(rng.random(), 3)
        plan[who].append(Kill(share, rng.choice(SIGNALS), rng.choice(HARMS)))
    return plan


# --- the audit ---------------------------------------------------------------------------------


def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, payload) of each chunk of a PNG; stops at the first chunk that does not fit."""
    at = 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        yield kind, data[at + 8 : at + 8 + length]
        at += 12 + length


def pixels_digest(data: bytes) -> str:
    """sha256 of the image data chunks: the runner only adds text chunks to what it downloads."""
    digest = hashlib.sha256()
    for kind, payload in png_chunks(data):
        if kind == b"IDAT":
            digest.update(payload)
    return digest.hexdigest()


def texts(data: bytes) -> dict[str, str]:
    """The iTXt chunks of a PNG, the last of each keyword winning (the runner writes its own)."""
    found = {}
    for kind, payload in png_chunks(data):
        if kind == b"iTXt":
            keyword, _, rest = payload.partition(b"\x00")
            # compression flag and method, then language tag and translated keyword, NUL-ended
            text = rest[2:].split(b"\x00", 2)[-1]
            found[keyword.decode("latin-1")] = text.decode("utf-8", errors="replace")
    return found


def billed(task: Task, now: float) -> bool:
    """Whether the task is (or will be) paid for: it did not end FAILED and was not cancelled."""
    return task.status(now) not in (TaskStatus.FAILED, TaskStatus.CANCELED)


class Truth:
    """What the emulator made: every task by the (prompt, seed) of the job that sent it."""

    def __init__(self, app) -> None:
        self.state = app[EMULATOR]
        account = self.state.accounts.authenticate(f"Bearer {KEY}")
        self.now = self.state.clock.now()
        self.tasks = list(self.state.tasks.tasks(account))
        self.by_job: dict[tuple[str, int], list[Task]] = defaultdict(list)
        for task in self.tasks:
            self.by_job[(task.brief.prompt, task.brief.seed)].append(task)
        self._digests: dict[str, set[str]] = {}

    def write(self, path: Path) -> None:
        """Every task (its job, times on the emulator's clock, status) and every request the
        emulator heard, with its clock at a moment of real time, to read a finding by."""
        tasks = [
            {
                "task_id": t.task_id,
                "model": t.brief.model,
                "prompt": t.brief.prompt,
                "seed": t.brief.seed,
                "submitted": t.submitted,
                "status": t.status(self.now),
                "billed": billed(t, self.now),
            }
            for t in self.tasks
        ]
        clock = {
            "real": time.time(),
            "service": self.state.clock.now(),
            "speed": self.state.clock.speed,
        }
        requests = list(self.state.request_log.entries())
        text = json.dumps({"clock": clock, "tasks": tasks, "requests": requests}, indent=1)
        path.write_text(text, encoding="utf-8")

    async def digests(self, task: Task) -> set[str]:
        """The image-data digests of the task's images (rendered again: the emulator caches)."""
        if task.task_id not in self._digests:
            self._digests[task.task_id] = {
                pixels_digest(await asyncio.to_thread(paint, task.brief, i, self.state.pngs))
                for i in task.succeeded_indexes()
            }
        return self._digests[task.task_id]


def final_states(project: Project, jobs: dict) -> dict[tuple[str, str], dict]:
    """Each job's last word: its entry in the last run's report, else what the lock records."""
    lock_path = project.root / "wanform.lock"
    lock = json.loads(lock_path.read_text(encoding="utf-8")) if lock_path.exists() else {}
    found: dict[tuple[str, str], dict] = {}
    for key, entry in (lock.get("jobs") or {}).items():
        recipe, _, name = key.partition("::")
        found[(os.path.basename(recipe), name)] = {
            "status": "partial" if entry.get("failures") else "succeeded",
            "task_id": entry.get("task_id"),
            "images": [{"file": str(project.root / o["path"])} for o in entry.get("outputs") or []],
            "error": None,
        }
    for job in (project.last_report or {}).get("jobs") or []:
        key = (os.path.basename(job["recipe"]), job["job"])
        job = dict(job, images=[{"file": str(project.root / i["file"])} for i in job["images"]])
        if job["status"] != "skipped" or key not in found:
            found[key] = job
    return {key: found[key] for key in jobs if key in found}


def candidates(job: dict) -> list[str]:
    """The tasks an unresolved job's report names as maybe its own (all of them: its message
    names the first few)."""
    return list((job.get("error") or {}).get("candidates") or [])


def in_state(job: dict | None) -> bool:
    """Whether a job ended in a state the soak accepts (see STATES)."""
    if job is None:
        return False
    state = STATES.get(job.get("status", ""))
    if state == "succeeded":
        return bool(job["images"]) and all(Path(i["file"]).is_file() for i in job["images"])
    if state == "unresolved":
        return bool(candidates(job))
    return state is not None


def unaccounted(paid: list[Task], job: dict | None, named: set[str] = frozenset()) -> list[Task]:
    """The job's billed tasks it neither used, nor names as candidates (unresolved, in its last
    report or any run's before: `named`), nor knowingly replaced (a partial task followed by a
    new submission): paid for nothing anyone knows of."""
    known = {(job or {}).get("task_id"), *candidates(job or {}), *named}
    replaced = {t.task_id for t in paid[:-1] if t.failed_images}
    return [t for t in paid if t.task_id not in known | replaced]


async def audit(projects: list[Project], truth: Truth) -> Audit:
    result = Audit()
    result.counts["submissions"] = len(truth.tasks)
    for project in projects:
        jobs = job_table(project)
        result.counts["jobs"] += len(jobs)
        ends = final_states(project, jobs)
        for key, values in jobs.items():
            label = f"{project.name}/{key[0]}: {key[1]}"
            made = truth.by_job[(values["prompt"], values.get("seed"))]
            end = ends.get(key)
            paid = [t for t in made if billed(t, truth.now)]
            for task in unaccounted(paid, end, project.named.get(key, set())):
                result.add(
                    "duplicates",
                    f"{label}: task {task.task_id} paid for: neither used nor named by the job",
                )
            result.states[STATES.get((end or {}).get("status", ""), "none")] += 1
            if not in_state(end):
                result.add("no state", f"{label}: {json.dumps(end)[:300]}")
            for image in (end or {}).get("images") or []:
                await check_image(Path(image["file"]), values, made, truth, label, result)
        scan_files(project, result)
        canary = project.root / CANARY
        if not canary.is_file() or "wanform never wrote me" not in canary.read_text():
            result.add("deleted outside", str(canary))
        result.counts["tracebacks"] += project.tracebacks
        result.counts["hung runs"] += sum(1 for r in project.runs if r["hung"])
    beside = projects[0].root.parent / CANARY
    if not beside.is_file():
        result.add("deleted outside", str(beside))
    return result


async def check_image(
    path: Path, values: dict, made: list[Task], truth: Truth, label: str, result: Audit
) -> None:
    if not path.is_file():
        return
    data = path.read_bytes()
    if texts(data).get("Description") != values["prompt"]:
        result.add("wrong images", f"{label}: {path.name} carries another prompt")
        return
    digest = pixels_digest(data)
    for task in made:
        if digest in await truth.digests(task):
            return
    result.add("wrong images", f"{label}: {path.name} is no image of the job's tasks")


def scan_files(project: Project, result: Audit) -> None:
    """Temporaries anywhere; every image, sidecar and lock must read back whole."""
    for path in sorted(project.root.rglob("*")):
        if (
            not path.is_file()
            or path.parent.name == "images"
            and path.parent.parent == project.root
        ):
            continue
        shown = str(path.relative_to(project.root.parent))
        if path.name.endswith(TEMP_SUFFIXES):
            result.add("leftover files", shown)
        elif path.suffix == ".png":
            try:
                with Image.open(path) as image:
                    image.verify()
                with Image.open(path) as image:
                    image.load()
            except Exception as exc:  # any refusal by Pillow is a corrupt file
                result.add("corrupt files", f"{shown}: {exc}")
        elif path.suffix in (".json", ".lock") and ".wanform" not in path.parts:
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                result.add("corrupt files", f"{shown}: {exc}")


# --- the whole soak ----------------------------------------------------------------------------


@dataclass
class Outcome:
    settings: Settings
    audit: Audit
    projects: list[Project]
    seconds: float
    truth: Truth  # to audit the projects again (the emulator is stopped; its tasks stay readable)


async def soak(settings: Settings, base: Path, keep: bool = False) -> Outcome:
    """Write the projects, run them under kills against a faulty emulator, audit what is left;
    `keep`: write what the emulator made and heard beside them."""
    started = time.monotonic()
    projects = write_projects(base, settings)
    scenario_file = base / "scenario.yaml"
    scenario_file.write_text(
        yaml.safe_dump({"faults": scenario(settings.speed, settings.faults)}), encoding="utf-8"
    )
    config = EmulatorConfig(
        port=0,
        speed=settings.speed,
        seed=settings.seed,
        scenario=str(scenario_file),
        clock_skew=settings.skew,
    )
    runner, base_url = await start(config)
    try:
        plans = kill_plan(settings)
        await asyncio.gather(
            *(
                drive(p, base_url, settings.speed, kills)
                for p, kills in zip(projects, plans, strict=True)
            )
        )
        truth = Truth(runner.app)
        result = await audit(projects, truth)
        if keep:
            truth.write(base / "emulator.json")
    finally:
        await runner.cleanup()
    return Outcome(settings, result, projects, time.monotonic() - started, truth)


def describe(outcome: Outcome, verbose: bool = False) -> str:
    s, audit_ = outcome.settings, outcome.audit
    runs = [r for p in outcome.projects for r in p.runs]
    lines = [
        f"soak: seed {s.seed}, {s.jobs} jobs in 2 projects sharing one key, {s.kills} kills "
        f"planned, emulator at {s.speed:g}x with its clock {s.skew:+g} s off, "
        f"faults x{s.faults:g}, {outcome.seconds:.1f} s",
        f"runs: {len(runs)} (killed: {dict(Counter(r['signal'] for r in runs if r['killed']))}, "
        f"state harmed after: {dict(Counter(r['harm'] for r in runs if r['killed']))}, "
        f"exit codes {dict(Counter(r['exit'] for r in runs if not r['killed']))})",
        "scenario: " + "; ".join(json.dumps(rule) for rule in scenario(s.speed, s.faults)),
        "",
        f"{'count':<16}{'value':>7}  target",
    ]
    for name in ("jobs", "submissions", *TARGETS):
        target = "0" if name in TARGETS else "-"
        lines.append(f"{name:<16}{audit_.counts[name]:>7}  {target}")
    lines.append(f"\njobs by final state: {dict(audit_.states)}")
    for name in TARGETS:
        shown = audit_.details[name] if verbose else audit_.details[name][:5]
        lines += [f"  {name}: {d}" for d in shown]
    if verbose:
        lines += [f"  {p.name} run: {r}" for p in outcome.projects for r in p.runs]
        lines += [
            f"  traceback: {r['stderr']}" for p in outcome.projects for r in p.runs if "stderr" in r
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=Settings.jobs)
    parser.add_argument("--kills", type=int, default=Settings.kills)
    parser.add_argument("--seed", type=int, default=Settings.seed)
    parser.add_argument("--speed", type=float, default=Settings.speed)
    parser.add_argument("--faults", type=float, default=Settings.faults, help="fault rate scale")
    parser.add_argument(
        "--skew", type=float, default=Settings.skew, help="emulator clock ahead, seconds"
    )
    parser.add_argument("--keep", type=Path, help="leave the projects in this (new) folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="every finding, in full")
    args = parser.parse_args()
    settings = Settings(args.jobs, args.kills, args.seed, args.speed, args.faults, args.skew)
    base = args.keep or Path(tempfile.mkdtemp(prefix="wanform-soak-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        outcome = asyncio.run(soak(settings, base, keep=args.keep is not None))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print(describe(outcome, args.verbose))
    return 1 if outcome.audit.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
