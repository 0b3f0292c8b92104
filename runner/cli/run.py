"""`wanform run`: validate, plan against the lock, run the chosen jobs, record them in the lock."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import click
import stamina

from wanform.runner import signals
from wanform.runner.api.errors import WanformError
from wanform.runner.api.limits import Limits, resolve_limits
from wanform.runner.api.targets import Target
from wanform.runner.cli.options import root_option, target_option, variants_option
from wanform.runner.cli.steps import check_writable, fail, project_target
from wanform.runner.cli.validate import project_at, validated
from wanform.runner.engine.guard import STATE_DIR, RunBusy, run_guard
from wanform.runner.engine.launch import execute
from wanform.runner.engine.run import RunOptions
from wanform.runner.engine.states import RunResult
from wanform.runner.exits import Exit, help_text
from wanform.runner.files.areas import OutsideError, check_links
from wanform.runner.files.atomic import remove_stale_temps
from wanform.runner.files.names import safe_name
from wanform.runner.gitops import project as gitops_project
from wanform.runner.gitops.fingerprint import HASH_CACHE
from wanform.runner.gitops.links import recorded_outputs
from wanform.runner.gitops.lockfile import LOCK_NAME, LockFileError
from wanform.runner.gitops.plan import Plan, PlannedJob
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.recipes.references import Index
from wanform.runner.reports import history
from wanform.runner.reports import run as run_report
from wanform.runner.reports.junit import write_junit
from wanform.runner.reports.progress import choose
from wanform.spec.models import ModelSpec

RESUMABLE = "the journal holds every task id known so far: a rerun resumes them"

RUN_HELP = f"""Run recipes (default: recipes/): submit, poll, download the images into --out.

    Recipes are validated first; an invalid one stops the run before anything is sent. Every task
    id is journaled in ROOT/.wanform/journal.jsonl the moment it is known: a rerun after a crash or
    Ctrl-C polls those tasks instead of paying for them again, and skips jobs whose files are
    intact. Images go to OUT/<recipe>/<job>-<i>.png with a <job>.json sidecar (provenance); OUT is
    ROOT/out unless --out says otherwise, and a relative --out is taken from ROOT too. A symlink
    that leads OUT, a recipe's folder in it or ROOT/.wanform out of the project stops the run
    before anything is sent.

    Limits default to the documented ones per model (submissions/s, tasks in flight) and 20 task
    queries/s per account; override with the options or WANFORM_SUBMIT_RPS, WANFORM_MAX_IN_FLIGHT,
    WANFORM_QUERY_RPS. A value is N (every model) or model=N,model=N.

{help_text()}"""


@click.command(help=RUN_HELP)
@click.argument("paths", nargs=-1, type=click.Path())
@target_option
@click.option(
    "--sync", "synchronous", is_flag=True, help="Use the sync endpoint where the model has one."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Where images go (default: the project file's `out`, else out); a relative path is "
    "taken from ROOT, not the current directory.",
)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["text", "json", "ndjson"]),
    default="text",
    show_default=True,
    help="text; json: one report at the end; ndjson: one versioned event per line.",
)
@click.option(
    "--lock",
    "lock_path",
    type=click.Path(dir_okay=False),
    help="Lock file (default: ROOT/wanform.lock).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Run every job as a new task, not only new and changed ones, paying past the account's "
    "unclaimed tasks.",
)
@click.option(
    "--resubmit-unresolved",
    is_flag=True,
    help="Submit the unresolved jobs: those whose lost submission answer matched no task surely, "
    "and those the account holds tasks for that no journal or lock claims (local state lost); "
    "they may be billed twice.",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Drop orphaned lock entries (no recipe declares them) and delete their files that are "
    "in OUT and still the bytes the lock recorded; any other file they name is listed and kept.",
)
@click.option(
    "--max-images",
    type=click.IntRange(min=0),
    help="Refuse, before sending anything, a run that could bill more images than this.",
)
@click.option(
    "--max-cost", type=click.FloatRange(min=0), help="Likewise for the list-price estimate in CNY."
)
@click.option(
    "--shard",
    metavar="K/N",
    help="Run slice K of N (deterministic and balanced; a chain of jobs stays in one slice), for "
    "a CI matrix.",
)
@click.option(
    "--job",
    "wanted",
    multiple=True,
    metavar="NAME",
    help="Run only this job (name as printed, or RECIPE_PATH::JOB) and the upstream jobs it "
    "needs; repeatable.",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False),
    help="Also write a JUnit XML report, one test case per job.",
)
@click.option("--submit-rps", metavar="N|MODEL=N,...", help="Task submissions per second.")
@click.option(
    "--max-in-flight", metavar="N|MODEL=N,...", help="Tasks submitted and not yet finished."
)
@click.option("--query-rps", metavar="N", help="Task queries per second for the whole account.")
@click.option(
    "--emulator-speed",
    type=click.FloatRange(min=0, min_open=True),
    help="Clock speed of an emulator target (the embedded one runs at 10 unless told): polling "
    "starts at the documented durations divided by it.",
)
@root_option("Project root: local images must stay inside it; the journal lives in ROOT/.wanform.")
@variants_option
def run(
    paths: tuple[str, ...],
    target: str | None,
    synchronous: bool,
    out: str | None,
    fmt: str,
    lock_path: str | None,
    force: bool,
    resubmit_unresolved: bool,
    prune: bool,
    max_images: int | None,
    max_cost: float | None,
    shard: str | None,
    wanted: tuple[str, ...],
    junit: str | None,
    submit_rps: str | None,
    max_in_flight: str | None,
    query_rps: str | None,
    emulator_speed: float | None,
    root: str | None,
    models: Mapping[str, ModelSpec],
) -> None:
    signals.on_stop(RESUMABLE)
    project = project_at(root, "text" if fmt == "text" else "json")
    root = str(project.root)
    validation = validated(paths, project, "text" if fmt == "text" else "json", models)
    part = _shard(shard)
    lock_file = Path(lock_path) if lock_path else Path(root) / LOCK_NAME
    # an absolute --out stays as given; `..` is taken as written, never after a symlink
    out_dir = Path(os.path.normpath(Path(root) / (out or project.out or "out")))
    _check_links(Path(root), out_dir, validation.jobs + validation.context)
    _check_destinations(Path(root), lock_file, junit, out_dir)
    options = RunOptions(
        out=out_dir,
        synchronous=synchronous,
        target_speed=emulator_speed,
        redo_finished=force,
        resubmit_unresolved=resubmit_unresolved,
    )
    flags = {"submit_rps": submit_rps, "max_in_flight": max_in_flight, "query_rps": query_rps}
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(run_guard(Path(root)))
        except RunBusy as exc:
            fail(f"{exc.message}; {exc.hint}.")
        _remove_stale_temps(
            Path(root), out_dir, validation.jobs + validation.context, [lock_file, junit]
        )
        gitops = _open_project(Path(root), lock_file, out_dir)
        options = replace(options, claimed=gitops.lock.task_ids())
        chosen = project_target(target, project)
        plan = gitops.plan(validation.jobs + validation.context, chosen.made_on)
        chosen_jobs = gitops_project.select(plan, force, part, _wanted(plan, wanted))
        refusal = gitops_project.over_budget(
            chosen_jobs, _first(max_images, project.max_images), _first(max_cost, project.max_cost)
        )
        if refusal:
            fail(refusal)
        jobs = [j.checked for j in chosen_jobs if j.checked is not None]
        known = _known(gitops, jobs)
        with signals.held():  # a signal stops the jobs and waits until the lock records them
            result = _execute(jobs, chosen, options, flags, fmt, root, models, known)
            _record(gitops, chosen_jobs, result, chosen, plan, prune, junit)
            kept = history.record_run(Path(root), [j.key for j in chosen_jobs], result, chosen.name)
        if kept:
            click.echo(f"warning: {kept}", err=True)
    run_report.REPORTERS[fmt](result, sys.stdout)
    sys.exit(result.exit_code)


def _first(*values):
    """The first value given: the command line's, else the project file's."""
    return next((v for v in values if v is not None), None)


def _wanted(plan: Plan, names: tuple[str, ...]) -> set[str] | None:
    """The keys `--job` names, or exit 2 naming one that matches no job or several."""
    if not names:
        return None
    index = Index([j.key for j in plan.jobs if j.checked is not None])
    keys = set()
    for name in names:
        found = index.resolve(name)
        if not isinstance(found, str):
            fail(f"--job {name}: {found.message}", Exit.USAGE)
        keys.add(found)
    return keys


def _known(project: gitops_project.Project, jobs: list[CheckedJob]) -> dict[str, dict[int, Path]]:
    """The files of the upstream jobs outside the run, as the lock records them."""
    running = {c.key for c in jobs}
    out = {}
    for up in {link.upstream for c in jobs for link in c.links} - running:
        paths = recorded_outputs(project.lock.jobs.get(up, {}), "path")
        out[up] = {index: project.root / path for index, path in paths.items()}
    return out


def _check_destinations(root: Path, lock_file: Path, junit: str | None, out: Path) -> None:
    """Exit 1, before anything is sent, if the journal, lock, report or images cannot be
    written."""
    for option, directory in (
        ("--root", root / STATE_DIR),
        ("--lock", lock_file.parent),
        ("--junit", Path(junit).parent if junit else None),
        ("--out", out),
    ):
        if directory is not None:
            check_writable(option, directory)


def _check_links(root: Path, out: Path, jobs: list[CheckedJob]) -> None:
    """Exit 1, before anything is sent, if a symlink leads a folder this run writes or sweeps out
    of the project (or, for an --out given outside it, out of that folder)."""
    inside = Path(os.path.abspath(out)).is_relative_to(os.path.abspath(root))
    area, name = (root, "the project") if inside else (out, "the output folder")
    recipes = [out / stem for stem in sorted({safe_name(c.job.recipe.name) for c in jobs})]
    try:
        check_links([history.runs_dir(root)], root, "the project")
        check_links([out, *recipes], area, name)
    except OutsideError as exc:
        fail(f"{exc.message}; nothing was sent")


def _remove_stale_temps(
    root: Path, out: Path, jobs: list[CheckedJob], files: list[Path | str | None]
) -> None:
    """Delete temporaries a killed run left in the folders this run writes (under the run guard,
    so none is another run's live file)."""
    folders = sorted({out / safe_name(c.job.recipe.name) for c in jobs} | {history.runs_dir(root)})
    written = [Path(f) for f in files if f] + [root / HASH_CACHE]
    removed = remove_stale_temps(folders, written)
    if removed:
        click.echo(
            f"notice: removed {len(removed)} stale temporary file(s) of a killed run", err=True
        )


def _open_project(root: Path, lock_file: Path, out: Path) -> gitops_project.Project:
    """The project with its lock read, or exit 1 saying what is wrong with the lock."""
    try:
        return gitops_project.Project.open(root, lock_file, out)
    except LockFileError as exc:
        fail(f"{exc}; fix it, or move it away to start afresh")


def _record(
    project: gitops_project.Project,
    jobs: list[PlannedJob],
    result: RunResult,
    target: Target,
    plan: Plan,
    prune: bool,
    junit: str | None,
) -> None:
    """Write the lock (pruned if asked) and the JUnit report; exit 4 if a file cannot be written
    (the tasks are made: 1 would say nothing was sent)."""
    try:
        pruned = project.record(jobs, result, target.made_on, plan, prune)
        for removed in pruned.removed:
            click.echo(f"notice: pruned {removed}", err=True)
        for kept, reason in pruned.kept:
            click.echo(f"notice: kept {kept}: {reason}", err=True)
        if junit:
            write_junit(Path(junit), result)
    except OSError as exc:
        fail(
            f"cannot write {exc.filename or 'the lock'}: {exc.strerror or exc}. The images are "
            "on disk and the journal holds every task, so a rerun records them without "
            "submitting them again.",
            Exit.STOPPED,
        )


def _shard(shard: str | None) -> tuple[int, int] | None:
    """`--shard K/N` as (K, N), or exit 1 saying what it takes."""
    try:
        return gitops_project.parse_shard(shard) if shard else None
    except ValueError as exc:
        fail(str(exc))


def _limits(models: Mapping[str, ModelSpec], flags: Mapping[str, str | None]) -> Limits:
    """The rate limits from the model table, WANFORM_* variables and the flags, or exit 1."""
    try:
        return resolve_limits(models, os.environ, **flags)
    except ValueError as exc:
        fail(str(exc))


def _execute(
    jobs: list[CheckedJob],
    chosen: Target,
    options: RunOptions,
    flags: Mapping[str, str | None],
    fmt: str,
    root: str,
    models: Mapping[str, ModelSpec],
    known: dict[str, dict[int, Path]],
) -> RunResult:
    """Run the chosen jobs on the target; the result of an empty selection is an empty run."""
    if not jobs:
        click.echo(
            "notice: nothing to run: every job is unchanged (--force runs them anyway)", err=True
        )
        return RunResult(chosen.describe(), [])
    if options.target_speed is not None and chosen.name == "dashscope":
        fail("--emulator-speed applies to an emulator target, not to dashscope")
    limits = _limits(models, flags)
    progress = choose(sys.stdout, sys.stderr, fmt)
    stamina.instrumentation.set_on_retry_hooks([])  # retries show in the report, not as log lines
    try:
        return asyncio.run(
            execute(jobs, chosen, limits, options, progress, root=root, models=models, known=known)
        )
    except WanformError as exc:
        fail(exc.line())
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"cannot start the run: {where}{exc.strerror or exc}")
