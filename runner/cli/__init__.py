"""The `wanform` command line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import click
import stamina

from runner.api.errors import AccountError, EndpointError, TargetError, WanformError
from runner.cli.gitops import merge_locks, plan
from runner.cli.options import variants_option
from runner.engine import states as run_results
from runner.engine.guard import RunBusy, run_guard
from runner.exits import Exit, help_text
from runner.gitops import project as gitops_project
from runner.gitops.lockfile import LOCK_NAME, LockFileError
from runner.recipes.check import Validation, validate_paths
from runner.reports import run as run_report
from runner.reports.junit import write_junit
from runner.reports.validation import REPORTERS
from spec.models import MODELS, ModelSpec
from spec.schemagen import recipe_schema, render, request_schema

EXIT_CODES = help_text()


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    help=f"Declarative, reproducible image jobs for DashScope's Wan image models.\n{EXIT_CODES}",
)
@click.version_option(package_name="wanform")
def main() -> None:
    pass


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(sorted(REPORTERS)),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False),
    default=".",
    show_default=True,
    help="Project root; local image paths must stay inside it.",
)
@variants_option
def validate(
    paths: tuple[str, ...], fmt: str, strict: bool, root: str, models: Mapping[str, ModelSpec]
) -> None:
    """Check recipes (default: recipes/) against the spec, without sending anything.

    One line per problem, `path:line:col: error[CODE]: message`, then a summary.
    Exit 0 when every recipe is valid, 1 otherwise.
    """
    targets = list(paths) or ["recipes"]
    result = validate_paths(targets, root=root, models=models)
    if not result.recipes and not result.invalid:
        click.echo(f"error: no recipe files (*.yaml, *.yml) under {', '.join(targets)}", err=True)
    REPORTERS[fmt](result, sys.stdout, strict)
    sys.exit(Exit.OK if result.report.ok(strict) and result.recipes else Exit.INVALID)


@main.command()
@click.option(
    "--model",
    type=click.Choice(list(MODELS)),
    help="Print this model's request body schema instead.",
)
def schema(model: str | None) -> None:
    """Print the recipe JSON Schema (or a model's request schema)."""
    click.echo(render(request_schema(MODELS[model]) if model else recipe_schema()), nl=False)


def _fail(message: str, code: int = Exit.INVALID) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _check_writable(option: str, directory: Path) -> None:
    """Exit 1 before anything is sent when files cannot be written in `directory` (made if missing)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        _fail(f"{option}: cannot write in {directory}: {exc.strerror or exc}; nothing was sent")


def _validated(paths: tuple[str, ...], root: str, fmt: str, models) -> Validation:
    """Valid jobs, or the validation report printed as `validate` prints it and exit 1."""
    targets = list(paths) or ["recipes"]
    result = validate_paths(targets, root=root, models=models)
    if not result.recipes and not result.invalid:
        click.echo(f"error: no recipe files (*.yaml, *.yml) under {', '.join(targets)}", err=True)
    if not (result.report.ok() and result.recipes):
        REPORTERS[fmt](result, sys.stdout, False)
        sys.exit(Exit.INVALID)
    for finding in result.report.warnings():
        p = finding.problem
        click.echo(f"{finding.location}: {p.severity}[{p.code}]: {p.message}", err=True)
    return result


def _target(choice: str | None):
    from runner.api.targets import resolve

    try:
        return resolve(choice, os.environ)
    except TargetError as exc:
        _fail(exc.message)


TARGET_HELP = (
    "emulator, dashscope, or a base URL such as http://127.0.0.1:8000/api/v1. Default: dashscope when "
    "DASHSCOPE_API_KEY is set (base URL from DASHSCOPE_HTTP_BASE_URL, DASHSCOPE_API_REGION, "
    "DASHSCOPE_WORKSPACE_ID, as the official SDK resolves it), else the embedded emulator."
)


@main.command(
    help=f"""Run recipes (default: recipes/): submit, poll, download the images into --out.

    Recipes are validated first; an invalid one stops the run before anything is sent. Every task id
    is journaled in ROOT/.wanform/journal.jsonl the moment it is known: a rerun after a crash or
    Ctrl-C polls those tasks instead of paying for them again, and skips jobs whose files are intact.
    Images go to OUT/<recipe>/<job>-<i>.png with a <job>.json sidecar (provenance).

    Limits default to the documented ones per model (submissions/s, tasks in flight) and 20 task
    queries/s per account; override with the options or WANFORM_SUBMIT_RPS, WANFORM_MAX_IN_FLIGHT,
    WANFORM_QUERY_RPS. A value is N (every model) or model=N,model=N.

{EXIT_CODES}"""
)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--target", metavar="TARGET", help=TARGET_HELP)
@click.option(
    "--sync", "synchronous", is_flag=True, help="Use the sync endpoint where the model has one."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="out",
    show_default=True,
    help="Where images go.",
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
    "--force", is_flag=True, help="Run every job as a new task, not only new and changed ones."
)
@click.option(
    "--prune",
    is_flag=True,
    help="Drop orphaned lock entries (no recipe declares them) and their outputs.",
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
    "--shard", metavar="K/N", help="Run slice K of N (deterministic and balanced), for a CI matrix."
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
    help="Clock speed of an emulator target (the embedded one runs at 10 unless told): polling starts "
    "at the documented durations divided by it.",
)
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False),
    default=".",
    show_default=True,
    help="Project root: local images must stay inside it; the journal lives in ROOT/.wanform.",
)
@variants_option
def run(
    paths: tuple[str, ...],
    target: str | None,
    synchronous: bool,
    out: str,
    fmt: str,
    lock_path: str | None,
    force: bool,
    prune: bool,
    max_images: int | None,
    max_cost: float | None,
    shard: str | None,
    junit: str | None,
    submit_rps: str | None,
    max_in_flight: str | None,
    query_rps: str | None,
    emulator_speed: float | None,
    root: str,
    models: Mapping[str, ModelSpec],
) -> None:
    validation = _validated(paths, root, "text" if fmt == "text" else "json", models)
    try:
        part = gitops_project.parse_shard(shard) if shard else None
    except ValueError as exc:
        _fail(str(exc))
    lock_file = Path(lock_path) if lock_path else Path(root) / LOCK_NAME
    for option, directory in (
        ("--root", Path(root) / ".wanform"),
        ("--lock", lock_file.parent),
        ("--junit", Path(junit).parent if junit else None),
        ("--out", Path(out)),
    ):
        if directory is not None:
            _check_writable(option, directory)
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(run_guard(Path(root)))
        except RunBusy as exc:
            _fail(f"{exc.message}; {exc.hint}.")
        try:
            project = gitops_project.Project.open(Path(root), lock_file)
        except LockFileError as exc:
            _fail(f"{exc}; fix it, or move it away to start afresh")
        plan = project.plan(validation.jobs)
        chosen_jobs = gitops_project.select(plan, force, part)
        refusal = gitops_project.over_budget(chosen_jobs, max_images, max_cost)
        if refusal:
            _fail(refusal)
        chosen = _target(target)
        result = _execute(
            [j.checked for j in chosen_jobs],
            chosen,
            synchronous,
            out,
            fmt,
            submit_rps,
            max_in_flight,
            query_rps,
            emulator_speed,
            root,
            models,
            force,
        )
        try:
            for removed in project.record(chosen_jobs, result, chosen.name, plan, prune):
                click.echo(f"notice: pruned {removed}", err=True)
            if junit:
                write_junit(Path(junit), result)
        except OSError as exc:
            _fail(
                f"cannot write {exc.filename or 'the lock'}: {exc.strerror or exc}. The images are on disk and the "
                "journal holds every task, so a rerun records them without submitting them again."
            )
    run_report.REPORTERS[fmt](result, sys.stdout)
    sys.exit(result.exit_code)


def _execute(
    jobs,
    chosen,
    synchronous,
    out,
    fmt,
    submit_rps,
    max_in_flight,
    query_rps,
    emulator_speed,
    root,
    models,
    force,
):
    """Run the chosen jobs on the target; the result of an empty selection is an empty run."""
    from runner.api.limits import resolve_limits
    from runner.engine.launch import execute
    from runner.engine.run import RunOptions
    from runner.reports.progress import choose

    if not jobs:
        click.echo(
            "notice: nothing to run: every job is unchanged (--force runs them anyway)", err=True
        )
        return run_results.RunResult(chosen.describe(), [])
    if emulator_speed is not None and chosen.name == "dashscope":
        _fail("--emulator-speed applies to an emulator target, not to dashscope")
    try:
        limits = resolve_limits(
            models,
            os.environ,
            submit_rps=submit_rps,
            max_in_flight=max_in_flight,
            query_rps=query_rps,
        )
    except ValueError as exc:
        _fail(str(exc))
    progress = choose(sys.stdout, sys.stderr, fmt)
    options = RunOptions(
        out=Path(out), synchronous=synchronous, target_speed=emulator_speed, redo_finished=force
    )
    stamina.instrumentation.set_on_retry_hooks([])  # retries show in the report, not as log lines
    try:
        result = asyncio.run(
            execute(jobs, chosen, limits, options, progress, root=root, models=models)
        )
    except KeyboardInterrupt:
        _fail("aborted; the journal holds every task id known so far", Exit.INTERRUPTED)
    except WanformError as exc:
        _fail(exc.line())
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"cannot start the run: {where}{exc.strerror or exc}")
    return result


@main.command("render")
@click.argument("paths", nargs=-1, type=click.Path(), required=True, metavar="RECIPE...")
@click.option(
    "--target",
    metavar="TARGET",
    help="Whose base URL the commands use: default DashScope's (from the "
    "environment, as the SDK resolves it); `emulator` means a local `wanform emulator` on port 8000.",
)
@click.option(
    "--sync", "synchronous", is_flag=True, help="The sync endpoint where the model has one."
)
@click.option(
    "--short", is_flag=True, help="Abbreviate data URIs (the output can then no longer be sent)."
)
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False),
    default=".",
    show_default=True,
    help="Project root; local image paths must stay inside it.",
)
@variants_option
def render_command(
    paths: tuple[str, ...],
    target: str | None,
    synchronous: bool,
    short: bool,
    root: str,
    models: Mapping[str, ModelSpec],
) -> None:
    """Print each job's exact request as a curl command, without sending anything.

    The key is written as $DASHSCOPE_API_KEY for the shell to fill in.
    """
    from runner.api.targets import LOCAL_EMULATOR_URL, sdk_base_url
    from runner.reports.curl import render as render_jobs

    validation = _validated(paths, root, "text", models)
    try:
        base = (
            sdk_base_url(os.environ)
            if target in (None, "dashscope")
            else (LOCAL_EMULATOR_URL if target == "emulator" else _target(target).base_url)
        )
    except TargetError as exc:
        _fail(exc.message)
    render_jobs(validation.jobs, base, sys.stdout, synchronous, short)


def _task_command(action: str, task_id: str, target: str | None, fmt: str) -> None:
    from runner.cli.tasks import call, print_cancel, print_status

    chosen = _target(target)
    if chosen.embedded:
        _fail(
            f"{action} needs the target the task was submitted to: set DASHSCOPE_API_KEY or pass --target"
        )
    try:
        answer = asyncio.run(call(chosen, action, task_id))
    except (AccountError, EndpointError) as exc:
        _fail(exc.line(), Exit.STOPPED)
    except WanformError as exc:
        _fail(exc.line(), Exit.FAILED)
    (print_status if action == "status" else print_cancel)(task_id, answer, sys.stdout, fmt)


@main.command()
@click.argument("task_id")
@click.option("--target", metavar="TARGET", help=TARGET_HELP)
@click.option(
    "-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def status(task_id: str, target: str | None, fmt: str) -> None:
    """Show a task's status, times and result files (URLs without their signatures)."""
    _task_command("status", task_id, target, fmt)


@main.command()
@click.argument("task_id")
@click.option("--target", metavar="TARGET", help=TARGET_HELP)
@click.option(
    "-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def cancel(task_id: str, target: str | None, fmt: str) -> None:
    """Cancel a task; DashScope cancels only tasks still PENDING."""
    _task_command("cancel", task_id, target, fmt)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Virtual clock speed (2 = tasks finish twice as fast; 0 = frozen).",
)
@click.option(
    "--scenario", type=click.Path(exists=True, dir_okay=False), help="YAML file of fault rules."
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for random faults and default seeds.",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY",
    help="Accept only this key (repeatable); default: any key starting with sk-.",
)
def emulator(
    host: str, port: int, speed: float, scenario: str | None, seed: int, api_keys: tuple[str, ...]
) -> None:
    """Serve the offline DashScope emulator until Ctrl-C; prints its base URL."""
    from emulator import EmulatorConfig, serve

    try:
        config = EmulatorConfig(
            host=host, port=port, speed=speed, scenario=scenario, seed=seed, api_keys=api_keys
        )
        serve(config)
    except ValueError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


main.add_command(plan)
main.add_command(merge_locks)
