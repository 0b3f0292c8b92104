"""The run transaction: validate, plan against the lock, select the jobs, check the budget, run
them, and record them in the lock, the JUnit report and the run history.

Signals: the transaction writes the lock inside `signals.held()`, which defers a signal only when
`wanform.runner.signals.install` put wanform's handlers in place (the CLI does, first thing); in a
library it changes nothing. The engine takes SIGINT and SIGTERM over for the run's length (a first
one cancels PENDING tasks and ends the run) only when asked with `handle_signals`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wanform.runner import signals
from wanform.runner.api.errors import WanformError
from wanform.runner.api.limits import Limits, resolve_limits
from wanform.runner.api.targets import Target
from wanform.runner.app import checks, validating
from wanform.runner.app.errors import (
    LockError,
    OverBudget,
    ProjectBusy,
    RecordError,
    SettingError,
    StartError,
    UnknownJob,
    UnsafeLink,
)
from wanform.runner.app.results import RunOutcome
from wanform.runner.app.settings import RunSettings
from wanform.runner.engine.chain import Made
from wanform.runner.engine.guard import RunBusy, run_guard
from wanform.runner.engine.launch import execute
from wanform.runner.engine.run import RunOptions
from wanform.runner.engine.states import Progress, RunResult
from wanform.runner.engine.submission import LATE_TASK_GRACE
from wanform.runner.files.areas import STATE_DIR, OutsideError, check_links
from wanform.runner.files.atomic import remove_stale_temps
from wanform.runner.files.names import safe_name
from wanform.runner.gitops import project as gitops_project
from wanform.runner.gitops.fingerprint import HASH_CACHE
from wanform.runner.gitops.links import recorded_outputs
from wanform.runner.gitops.lockfile import LOCK_NAME, LockFileError
from wanform.runner.gitops.plan import Plan, PlannedJob
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.recipes.projectfile import ProjectFile
from wanform.runner.recipes.references import Index
from wanform.runner.reports import history
from wanform.runner.reports.junit import write_junit
from wanform.runner.storage.errors import StoreError
from wanform.runner.storage.location import StoredImage, is_stored
from wanform.runner.storage.s3 import Store
from wanform.spec.models import ModelSpec

GRACE_VARIABLE = "WANFORM_LATE_TASK_GRACE"
# A line for the caller, as `wanform run` prints it on stderr ("notice: ...", "warning: ...").
Note = Callable[[str], None]


@dataclass(frozen=True)
class Scope:
    """What a run is of: the project file, the model table, the environment (key, limits)."""

    file: ProjectFile
    models: Mapping[str, ModelSpec] = field(repr=False)
    env: Mapping[str, str] = field(repr=False)  # holds the API key


@dataclass
class Selection:
    """A run under its guard: the jobs chosen, the lock they are recorded in, the lines said."""

    settings: RunSettings
    project: Scope
    out: Path
    lock: gitops_project.Project
    target: Target
    plan: Plan
    chosen: list[PlannedJob]
    options: RunOptions
    note: Note
    notices: list[str] = field(default_factory=list)

    @property
    def jobs(self) -> list[CheckedJob]:
        return [j.checked for j in self.chosen if j.checked is not None]

    def say(self, line: str) -> None:
        self.notices.append(line)
        self.note(line)


def run(
    project: Scope,
    paths: tuple[str, ...],
    settings: RunSettings,
    progress: Progress,
    note: Note,
    handle_signals: bool = False,
) -> RunOutcome:
    """Run the project's recipes under `paths` (default: all) as `settings` say; progress goes to
    `progress`, the lines about the project to `note`. Raises `errors.Error` for what stops a
    run before anything is sent, RecordError when the lock cannot be written after."""
    return asyncio.run(run_async(project, paths, settings, progress, note, handle_signals))


async def run_async(
    project: Scope,
    paths: tuple[str, ...],
    settings: RunSettings,
    progress: Progress,
    note: Note,
    handle_signals: bool = False,
) -> RunOutcome:
    """`run` on the caller's event loop."""
    with transaction(project, paths, settings, note) as chosen, signals.held():
        if not chosen.jobs:
            return finish(chosen, nothing(chosen))
        limits = start(chosen)
        return finish(chosen, await launch(chosen, limits, progress, handle_signals))


@contextlib.contextmanager
def transaction(
    project: Scope, paths: tuple[str, ...], settings: RunSettings, note: Note
) -> Iterator[Selection]:
    """The chosen jobs, under the project's run guard, checked against the budget; nothing is
    sent before the block."""
    notices: list[str] = []

    def say(line: str) -> None:
        notices.append(line)
        note(line)

    root = project.file.root
    validation = validating.valid(paths, project.file, project.models)
    for finding in validation.warnings:
        say(validating.warning_line(finding))
    part = _shard(settings.shard)
    lock_file = Path(settings.lock) if settings.lock else root / LOCK_NAME
    written = settings.out or project.file.out or "out"
    store = checks.store_of(project.file, written, project.env)
    # an absolute `out` stays as given; `..` is taken as written, never after a symlink
    out = store.stage if store else Path(os.path.normpath(root / written))
    jobs = validation.validation.jobs + validation.validation.context
    _check_links(root, out, jobs)
    _check_destinations(root, lock_file, settings.junit, out)
    with _guarded(root):
        removed = remove_stale_temps(
            _written_folders(root, out, jobs), _written_files(root, lock_file, settings.junit)
        )
        if store is not None:
            removed += _swept(store.stage)
        if removed:
            say(f"notice: removed {len(removed)} stale temporary file(s) of a killed run")
        lock = _open_lock(root, lock_file, out, store)
        target = checks.target_of(project.file, settings.target, project.env)
        try:
            plan = lock.plan(jobs, target.made_on)
        except StoreError as exc:
            raise StartError(f"{exc.line()}; nothing was sent") from None
        chosen = gitops_project.select(plan, settings.force, part, _wanted(plan, settings.jobs))
        refusal = gitops_project.over_budget(
            chosen,
            _first(settings.max_images, project.file.max_images),
            _first(settings.max_cost, project.file.max_cost),
        )
        if refusal:
            raise OverBudget(refusal)
        options = RunOptions(
            out=out,
            synchronous=settings.synchronous,
            target_speed=settings.emulator_speed,
            redo_finished=settings.force,
            resubmit_unresolved=settings.resubmit_unresolved,
            claimed=lock.lock.task_ids(),
            late_task_grace=_late_task_grace(project.env),
            store=store,
        )
        yield Selection(settings, project, out, lock, target, plan, chosen, options, note, notices)


def nothing(chosen: Selection) -> RunResult:
    """The result of an empty selection: an empty run, said so."""
    chosen.say("notice: nothing to run: every job is unchanged (--force runs them anyway)")
    return RunResult(chosen.target.describe(), [])


def _late_task_grace(env: Mapping[str, str]) -> float:
    """WANFORM_LATE_TASK_GRACE, the seconds a rerun waits for a dead run's last request to make
    its task (default 5), or SettingError."""
    text = env.get(GRACE_VARIABLE)
    if text is None:
        return LATE_TASK_GRACE
    try:
        grace = float(text)
    except ValueError:
        grace = math.nan
    if not (math.isfinite(grace) and grace >= 0):
        raise SettingError(f"{GRACE_VARIABLE}={text!r}: give the seconds, a number from 0")
    return grace


def start(chosen: Selection) -> Limits:
    """The rate limits of the run, once its target is known to take its settings."""
    if chosen.options.target_speed is not None and chosen.target.name == "dashscope":
        raise SettingError("--emulator-speed applies to an emulator target, not to dashscope")
    s = chosen.settings
    try:
        return resolve_limits(
            chosen.project.models,
            chosen.project.env,
            submit_rps=s.submit_rps,
            max_in_flight=s.max_in_flight,
            query_rps=s.query_rps,
        )
    except ValueError as exc:
        raise SettingError(str(exc)) from None


async def launch(
    chosen: Selection, limits: Limits, progress: Progress, handle_signals: bool
) -> RunResult:
    """Run the chosen jobs on the target; StartError if it cannot start."""
    try:
        if chosen.options.store is not None:
            await chosen.options.store.check()  # before anything is billed
        return await execute(
            chosen.jobs,
            chosen.target,
            limits,
            chosen.options,
            progress,
            root=str(chosen.lock.root),
            models=chosen.project.models,
            known=_known(chosen.lock, chosen.jobs),
            interruptible=handle_signals,
        )
    except WanformError as exc:
        raise StartError(exc.line()) from exc
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise StartError(f"cannot start the run: {where}{exc.strerror or exc}") from exc


def finish(chosen: Selection, result: RunResult) -> RunOutcome:
    """Write the lock (pruned if asked), the JUnit report and the run history; RecordError if a
    file cannot be written (the tasks are made)."""
    root = chosen.lock.root
    try:
        pruned = chosen.lock.record(
            chosen.chosen, result, chosen.target.made_on, chosen.plan, chosen.settings.prune
        )
        for removed in pruned.removed:
            chosen.say(f"notice: pruned {removed}")
        for kept, reason in pruned.kept:
            chosen.say(f"notice: kept {kept}: {reason}")
        for left in pruned.left:
            chosen.say(f"notice: left {left}: its job no longer makes it (--prune deletes such)")
        if chosen.settings.junit:
            write_junit(Path(chosen.settings.junit), result)
        if chosen.options.store is not None:
            chosen.options.store.remember()
    except OSError as exc:
        raise RecordError(
            f"cannot write {exc.filename or 'the lock'}: {exc.strerror or exc}. The images are "
            "on disk and the journal holds every task, so a rerun records them without "
            "submitting them again.",
            result,
        ) from exc
    keys = [j.key for j in chosen.chosen]
    warning = history.record_run(root, keys, result, chosen.target.made_on)
    if warning:
        chosen.say(f"warning: {warning}")
    return RunOutcome(result, chosen.plan, chosen.notices)


def _first(*values):
    """The first value given: the setting's, else the project file's."""
    return next((v for v in values if v is not None), None)


def _shard(shard: str | None) -> tuple[int, int] | None:
    """`K/N` as (K, N), or SettingError saying what it takes."""
    try:
        return gitops_project.parse_shard(shard) if shard else None
    except ValueError as exc:
        raise SettingError(str(exc)) from None


def _wanted(plan: Plan, names: tuple[str, ...]) -> set[str] | None:
    """The keys the job names name, or UnknownJob naming one that matches no job or several."""
    if not names:
        return None
    index = Index([j.key for j in plan.jobs if j.checked is not None])
    keys = set()
    for name in names:
        found = index.resolve(name)
        if not isinstance(found, str):
            raise UnknownJob(f"--job {name}: {found.message}")
        keys.add(found)
    return keys


def _known(lock: gitops_project.Project, jobs: list[CheckedJob]) -> dict[str, dict[int, Made]]:
    """The files (or objects) of the upstream jobs outside the run, as the lock records them."""
    running = {c.key for c in jobs}
    out: dict[str, dict[int, Made]] = {}
    for up in {link.upstream for c in jobs for link in c.links} - running:
        entry = lock.lock.jobs.get(up, {})
        paths = recorded_outputs(entry, "path")
        digests = recorded_outputs(entry, "sha256")
        out[up] = {
            index: StoredImage(path, digests.get(index, ""))
            if is_stored(path)
            else lock.root / path
            for index, path in paths.items()
        }
    return out


def _check_destinations(root: Path, lock_file: Path, junit: str | None, out: Path) -> None:
    """DestinationError, before anything is sent, if the journal, lock, report or images cannot
    be written."""
    for option, directory in (
        ("--root", root / STATE_DIR),
        ("--lock", lock_file.parent),
        ("--junit", Path(junit).parent if junit else None),
        ("--out", out),
    ):
        if directory is not None:
            checks.check_writable(option, directory)


def _check_links(root: Path, out: Path, jobs: list[CheckedJob]) -> None:
    """UnsafeLink, before anything is sent, if a symlink leads a folder this run writes or sweeps
    out of the project (or, for an `out` outside it, out of that folder)."""
    inside = Path(os.path.abspath(out)).is_relative_to(os.path.abspath(root))
    area, name = (root, "the project") if inside else (out, "the output folder")
    recipes = [out / stem for stem in sorted({safe_name(c.job.recipe.name) for c in jobs})]
    try:
        check_links([history.runs_dir(root)], root, "the project")
        check_links([out, *recipes], area, name)
    except OutsideError as exc:
        raise UnsafeLink(f"{exc.message}; nothing was sent") from None


@contextlib.contextmanager
def _guarded(root: Path) -> Iterator[None]:
    """The project's run guard held; ProjectBusy if another run holds it."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(run_guard(root))
        except RunBusy as exc:
            raise ProjectBusy(f"{exc.message}; {exc.hint}.") from None
        yield


def _written_folders(root: Path, out: Path, jobs: list[CheckedJob]) -> list[Path]:
    """The folders a run writes in, where a killed run may have left temporaries."""
    return sorted({out / safe_name(c.job.recipe.name) for c in jobs} | {history.runs_dir(root)})


def _written_files(root: Path, lock_file: Path, junit: str | None) -> list[Path]:
    """The files a run writes outside those folders."""
    return [lock_file, *([Path(junit)] if junit else []), root / HASH_CACHE]


def _swept(stage: Path) -> list[Path]:
    """Delete what a killed run left in the store's stage: files that never reached the store
    (their tasks are in the journal, so they are fetched again)."""
    left = sorted(p for p in stage.rglob("*") if p.is_file()) if stage.is_dir() else []
    for path in left:
        path.unlink(missing_ok=True)
    return left


def _open_lock(
    root: Path, lock_file: Path, out: Path, store: Store | None = None
) -> gitops_project.Project:
    """The project's lock, read; LockError saying what is wrong with it."""
    try:
        return gitops_project.Project.open(root, lock_file, out, store)
    except LockFileError as exc:
        raise LockError(f"{exc}; fix it, or move it away to start afresh") from None
