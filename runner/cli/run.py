"""`wanform run`: its options, over the run transaction of wanform.runner.app.running."""

from __future__ import annotations

import sys
from collections.abc import Mapping

import click
import stamina

from wanform.runner import signals
from wanform.runner.app import running
from wanform.runner.app.errors import Error, InvalidRecipes
from wanform.runner.app.settings import RunSettings
from wanform.runner.cli.options import root_option, target_option, variants_option
from wanform.runner.cli.steps import fail
from wanform.runner.cli.validate import opened, report_invalid
from wanform.runner.exits import help_text
from wanform.runner.reports import run as run_report
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
    before anything is sent. An OUT of s3://BUCKET/PREFIX puts each image into that S3-compatible
    store (wanform.yaml's `storage:` names an endpoint other than AWS; credentials only from the
    standard AWS variables, profile or role), checked before anything is sent.

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
    "taken from ROOT, not the current directory; s3://BUCKET/PREFIX puts them in that store.",
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
    shown = "text" if fmt == "text" else "json"
    project = opened(root, shown, models)
    settings = RunSettings(
        target=target,
        synchronous=synchronous,
        out=out,
        lock=lock_path,
        force=force,
        resubmit_unresolved=resubmit_unresolved,
        prune=prune,
        max_images=max_images,
        max_cost=max_cost,
        shard=shard,
        jobs=wanted,
        junit=junit,
        submit_rps=submit_rps,
        max_in_flight=max_in_flight,
        query_rps=query_rps,
        emulator_speed=emulator_speed,
    )
    stamina.instrumentation.set_on_retry_hooks([])  # retries show in the report, not as log lines
    progress = choose(sys.stdout, sys.stderr, fmt)
    try:
        outcome = running.run(
            project.scope(), paths, settings, progress, _echo, handle_signals=True
        )
    except InvalidRecipes as exc:
        report_invalid(exc, shown)
    except Error as exc:
        fail(exc.message, exc.exit_code)
    run_report.REPORTERS[fmt](outcome.result, sys.stdout)
    sys.exit(outcome.exit_code)


def _echo(line: str) -> None:
    """A line about the project (a notice, a warning) on stderr, as it happens."""
    click.echo(line, err=True)
