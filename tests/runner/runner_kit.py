"""Helpers for the runner tests: a project with recipes, an emulator on a real socket, a run."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp

from wanform.emulator import EmulatorConfig, start
from wanform.runner.api.client import Timeouts
from wanform.runner.api.limits import Limits, resolve_limits
from wanform.runner.api.targets import Target
from wanform.runner.engine.launch import execute
from wanform.runner.engine.run import RunOptions
from wanform.runner.engine.states import RunResult
from wanform.runner.engine.submission import LATE_TASK_GRACE
from wanform.runner.recipes.check import validate_paths
from wanform.runner.reports.events import Lines
from wanform.spec.emulator.wire import CLOCK_ADVANCE, FAULTS, REQUESTS
from wanform.spec.models import MODELS, ModelSpec

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-wanform-secret-0123456789abcdef"  # tests grep every file the runner writes for it
SPEED = 50.0
# ten jobs of one model, one image each
SEEDS = """\
    model: wan2.7-image
    prompt: A red fox in the snow.
    n: 1
    matrix:
      seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    """
SUBMIT_PATHS = (
    "/api/v1/services/aigc/image-generation/generation",
    "/api/v1/services/aigc/image2image/image-synthesis",
    "/api/v1/services/aigc/multimodal-generation/generation",
)


def fast_models(seconds: float = 0.3) -> Mapping[str, ModelSpec]:
    """The model table with every task taking `seconds` (for emulator and runner alike)."""
    return {name: replace(spec, typical_seconds=seconds) for name, spec in MODELS.items()}


@dataclass
class Project:
    """A scratch project: recipes the test writes, the repository's example images in images/."""

    root: Path

    def recipe(self, name: str, text: str) -> Path:
        path = self.root / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    @property
    def out(self) -> Path:
        return self.root / "out"

    def journal(self) -> list[dict]:
        path = self.root / ".wanform" / "journal.jsonl"
        return [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]

    def written(self) -> bytes:
        """Every byte the runner left in the project (outputs, sidecars, journal)."""
        return b"".join(
            p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and "images" not in p.parts
        )


def make_project(root: Path) -> Project:
    shutil.copytree(REPO / "recipes" / "images", root / "images")
    return Project(root)


@dataclass
class Emulator:
    """An emulator in the test's event loop, and its admin API."""

    base_url: str
    runner: object
    speed: float

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/api/v1")

    @property
    def run_target(self) -> tuple[str, ...]:
        """`wanform run`'s options for this emulator: its address and its clock speed, so that
        polling waits the emulator's durations, not the 2 s a service of unknown speed gets."""
        return ("--target", self.base_url, "--emulator-speed", str(self.speed))

    async def _admin(self, method: str, route: str, body: object = None) -> dict:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.root_url + route, json=body) as resp,
        ):
            assert resp.status < 300, await resp.text()
            return await resp.json()

    async def requests(self) -> list[dict]:
        """The emulator's request log."""
        return (await self._admin("GET", REQUESTS))["entries"]

    async def fault(self, **rule: object) -> str:
        """Add a fault rule; returns its id."""
        return (await self._admin("POST", FAULTS, rule))["faults"][0]["id"]

    async def fired(self, rule_id: str, times: int = 1) -> None:
        """Return once the rule has fired `times` times: its request has reached the emulator
        (callers bound the wait)."""
        while True:
            rules = (await self._admin("GET", FAULTS))["faults"]
            if next(r["fired"] for r in rules if r["id"] == rule_id) >= times:
                return
            await asyncio.sleep(0.02)

    async def advance(self, seconds: float) -> None:
        await self._admin("POST", CLOCK_ADVANCE, {"seconds": seconds})

    async def created(self) -> list[str]:
        """Task ids of every submission that created a task (answered or not)."""
        return [
            e["task_id"]
            for e in await self.requests()
            if e["path"] in SUBMIT_PATHS and e["task_id"]
        ]


async def start_emulator(**settings: object) -> Emulator:
    config = EmulatorConfig(**{"port": 0, "speed": SPEED, **settings})
    runner, base_url = await start(config)
    return Emulator(base_url, runner, config.speed)


@dataclass
class Run:
    """What a run returned and printed."""

    result: RunResult
    out: str
    err: str

    def job(self, name: str):
        return next(j for j in self.result.jobs if j.job == name)


async def run(
    project: Project,
    emulator: Emulator,
    *paths: str,
    key: str = KEY,
    limits: Limits | None = None,
    models: Mapping[str, ModelSpec] = MODELS,
    base_url: str | None = None,
    timeouts: Timeouts = Timeouts(),
    **options: object,
) -> Run:
    """Validate `paths` (default: every recipe of the project) and run them against the emulator."""
    validation = validate_paths(list(paths) or [str(project.root)], root=project.root)
    assert validation.report.ok(), [str(f.problem) for f in validation.report.errors()]
    target = Target("url", base_url or emulator.base_url, key)
    # the suite's late-task grace (tests/conftest.py), as a run of the CLI would read it
    grace = float(os.environ.get("WANFORM_LATE_TASK_GRACE", LATE_TASK_GRACE))
    settings = {
        "out": project.out,
        "target_speed": emulator.speed,
        "late_task_grace": grace,
        **options,
    }
    out, err = io.StringIO(), io.StringIO()
    result = await execute(
        validation.jobs,
        target,
        limits or resolve_limits(MODELS, {}),
        RunOptions(**settings),
        Lines(out, err),
        root=project.root,
        timeouts=timeouts,
        models=models,
    )
    return Run(result, out.getvalue(), err.getvalue())


def images(directory: Path) -> list[str]:
    """Every file under `directory`, relative and sorted, temporary files included (there must be
    none)."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


async def run_cli(root: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI as a process in `root` with an API key set; return its exit code, stdout and
    stderr."""
    env = {**os.environ, "DASHSCOPE_API_KEY": KEY}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wanform.runner.cli",
        *args,
        cwd=root,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


# `wanform` (arguments follow) whose requests give up after 1 + 2 s: a killed run may leave a
# submission unanswered in the journal, and a rerun waits until that request could no longer make
# a task (connect + read timeout, 75 s by default) before it lists tasks.
SHORT_TIMEOUTS = (
    "from wanform.runner.api.client import Timeouts; from wanform.runner.engine import launch; "
    "launch.execute.__defaults__ = ('.', Timeouts(connect=1.0, read=2.0), launch.MODELS); "
    "from wanform.runner.console import entry; entry()"
)


# A two-step chain: a text-to-image upstream (`n` to fill in) and an edit that takes its image.
FOX = """\
name: fox
model: wan2.7-image
prompt: A red fox in the snow.
size: 1K
n: {n}
seed: 1
"""
WINTER = """\
name: winter
model: wan2.7-image
prompt: Make it winter.
inputs:
  - from: fox
    bboxes: [[100, 100, 500, 500]]
size: 1K
n: 1
seed: 2
"""
