"""The GitOps commands: `wanform plan` (what a run would do, sending nothing) and
`wanform merge-locks`."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import click

from wanform.runner.app.errors import Error, InvalidRecipes
from wanform.runner.cli.options import PLAN_TARGET_HELP, root_option, variants_option
from wanform.runner.cli.steps import fail
from wanform.runner.cli.validate import echo_warnings, opened, report_invalid
from wanform.runner.exits import CHANGES_PENDING, Exit
from wanform.runner.gitops.lockfile import LOCK_NAME, LockFile, LockFileError, merge
from wanform.runner.gitops.plan import Plan
from wanform.runner.recipes import graph
from wanform.runner.reports.plan import PLAN_REPORTERS
from wanform.spec.models import ModelSpec


def draw(plan: Plan, style: str) -> str:
    """The pending jobs and the jobs they take outputs from, as a dot or mermaid graph."""
    upstream = {j.key: {link.upstream for link in j.checked.links} for j in plan.jobs if j.checked}
    status = {j.key: j.status for j in plan.jobs}
    pending = [j.key for j in plan.pending()]
    shown = sorted(set(pending) | {up for key in pending for up in upstream.get(key, ())})
    nodes = {key: status.get(key, "unknown") for key in shown}
    return (graph.dot if style == "dot" else graph.mermaid)(nodes, upstream)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--lock",
    "lock_path",
    type=click.Path(dir_okay=False),
    help=f"Lock file (default: ROOT/{LOCK_NAME}).",
)
@root_option("Project root; lock paths and image paths are relative to it.")
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(sorted(PLAN_REPORTERS)),
    default="text",
    show_default=True,
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing is pending, 2 when changes are, 1 on error.",
)
@click.option("-v", "--verbose", is_flag=True, help="List unchanged jobs too.")
@click.option(
    "--graph",
    "style",
    type=click.Choice(["dot", "mermaid"]),
    help="Print the pending jobs and the jobs they take outputs from as a graph instead.",
)
@click.option("--target", metavar="TARGET", help=PLAN_TARGET_HELP)
@variants_option
def plan(
    paths: tuple[str, ...],
    target: str | None,
    lock_path: str | None,
    root: str | None,
    fmt: str,
    detailed_exitcode: bool,
    verbose: bool,
    style: str | None,
    models: Mapping[str, ModelSpec],
) -> None:
    """Compare recipes (default: recipes/) with the lock file and the outputs on disk.

    Each job is new, changed (with the fields, inputs or outputs that changed; `upstream: JOB` when
    an input made by another job did; `target: emulator -> dashscope:cn-beijing` when the lock
    records it as made on another target than this run's), unchanged, or orphaned (in the lock, in
    no recipe any more). Prints the billable images and a cost estimate per model, each job at the
    most it can bill (image sets and interleaved output at their full count), the jobs a run of
    these recipes also needs upstream included. Nothing is sent, so `--target dashscope` needs no
    key.
    """
    project = opened(root, fmt, models)
    try:
        found = project.plan(paths, target=target, lock=lock_path)
    except InvalidRecipes as exc:
        report_invalid(exc, fmt)
    except Error as exc:
        fail(exc.message, exc.exit_code)
    echo_warnings(found.warnings)
    if style:
        sys.stdout.write(draw(found.plan, style))
    else:
        PLAN_REPORTERS[fmt](found.plan, sys.stdout, verbose)
    sys.exit(CHANGES_PENDING if detailed_exitcode and found.pending else Exit.OK)


@click.command("merge-locks")
@click.argument("locks", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--into",
    type=click.Path(dir_okay=False),
    default=LOCK_NAME,
    show_default=True,
    help="The lock file to write (it may be one of LOCKS).",
)
@click.option(
    "--base",
    type=click.Path(exists=True, dir_okay=False),
    help="The lock LOCKS were changed from: a three-way merge, as a git merge driver makes "
    "(an empty file is no lock).",
)
def merge_locks(locks: tuple[str, ...], into: str, base: str | None) -> None:
    """Merge the lock files that the shards of a CI matrix wrote into one.

    Shards touch different jobs, so their entries union cleanly; the same job with two
    different entries is an error (exit 1), never a silent pick. With --base, each job is taken
    from the lock that changed it since the base (a rebase of two runs' commits), and two locks
    changing one job differently is the error.
    """
    try:
        merged = merge([LockFile.load(Path(p)) for p in locks], Path(into), _base(base))
    except LockFileError as exc:
        fail(str(exc))
    merged.save()
    click.echo(f"merged {len(locks)} lock files: {len(merged.jobs)} jobs in {into}")


def _base(path: str | None) -> LockFile | None:
    """The base lock; git hands a merge driver an empty file when both sides added the lock."""
    if path is None:
        return None
    if Path(path).stat().st_size == 0:
        return LockFile(Path(path))
    return LockFile.load(Path(path))
