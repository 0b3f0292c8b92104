"""`wanform report`: jobs, their inputs and their images as one static HTML page, or Markdown."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import click

from wanform.runner.cli.options import PLAN_TARGET_HELP, root_option, variants_option
from wanform.runner.cli.steps import check_writable, fail, project_store, project_target
from wanform.runner.cli.validate import opened, validated
from wanform.runner.gitops import project as gitops_project
from wanform.runner.gitops.links import plan_chained
from wanform.runner.gitops.lockfile import LOCK_NAME, LockFile, LockFileError
from wanform.runner.reports import history
from wanform.runner.reports.html import markdown, page, previous, stored
from wanform.runner.timestamps import utc_now
from wanform.spec.models import ModelSpec


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False),
    default="report",
    show_default=True,
    help="Where the page and its thumbnails go; a relative path is taken from ROOT.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="The images folder (or s3:// store), as for `run` (default: the project file's `out`, "
    "else out); a relative path is taken from ROOT.",
)
@click.option(
    "--lock",
    "lock_path",
    type=click.Path(dir_okay=False),
    help=f"Lock file (default: ROOT/{LOCK_NAME}).",
)
@click.option(
    "--plan",
    "plan_only",
    is_flag=True,
    help="Show only new, changed and orphaned jobs, a changed job's previous outputs beside it.",
)
@click.option(
    "--base",
    metavar="REV",
    help="With --plan: compare with the lock as git revision REV has it (say origin/main), and "
    "show REV's outputs as the previous ones.",
)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["html", "markdown"]),
    default="html",
    show_default=True,
    help="html: write REPORT-DIR/index.html; markdown: print a summary for CI on stdout.",
)
@click.option("--target", metavar="TARGET", help=PLAN_TARGET_HELP)
@root_option("Project root: the lock, the run summaries in ROOT/.wanform/runs and the images.")
@variants_option
def report(
    paths: tuple[str, ...],
    target: str | None,
    report_dir: str,
    out: str | None,
    lock_path: str | None,
    plan_only: bool,
    base: str | None,
    fmt: str,
    root: str | None,
    models: Mapping[str, ModelSpec],
) -> None:
    """Write a report of the jobs (default: recipes/) as REPORT-DIR/index.html.

    One card per job: recipe and line, model, prompt, the parameters sent, the input images
    with their boxes and mask (an input another job makes links that job), the palette, a
    story's text, the outputs linking the full images (dated when they are not the last run's),
    failures, state, task id and times; above them the last run's summary. With --plan, each
    changed field reads old -> new. The page works from a file:// URL, with no
    server and no network; its script is REPORT-DIR/report.js. Thumbnails are cached in
    REPORT-DIR/thumbs.
    """
    if base is not None and not plan_only:
        raise click.UsageError("--base goes with --plan")
    found_project = opened(root, "text", models)
    project_root = found_project.root
    folder = project_root / report_dir
    lock_file = Path(lock_path) if lock_path else project_root / LOCK_NAME
    validation = validated(paths, found_project, "text")
    written_out = out or found_project.file.out or "out"
    store = project_store(found_project.file, written_out)
    out_dir = store.stage if store else project_root / written_out
    try:
        project = gitops_project.Project.open(project_root, lock_file, out_dir, store)
    except LockFileError as exc:
        fail(str(exc))
    html = fmt == "html"
    if html:
        check_writable("--report-dir", folder)
    places = page.places(project_root, folder)
    if store is not None and html:  # the lock's images as they are in the store now
        places = replace(places, signed=stored.prepare(project.lock, store, places.thumbs))
        click.echo(
            f"report: the full images in {store.location} are linked by URLs signed for "
            f"{stored.SIGNED_FOR.days} days from {utc_now('seconds')})"
        )
    compared = _base(project, lock_file, base, folder) if base else project.lock
    jobs = validation.jobs + validation.context
    made_on = project_target(target, found_project.file, sending=False).made_on
    plan = plan_chained(
        jobs, compared, project_root, project.hashes, target=made_on, areas=project.areas
    )
    project.hashes.save()
    find = before = None
    if plan_only and html:  # a changed job's previous outputs and inputs, from disk or git
        commit = base or previous.lock_commit(project_root, lock_file)
        make = page.Thumbnails(places.thumbs)
        find = previous.finder(project_root, commit, compared.jobs, places, make)
        restore = previous.restorer(project_root, commit, places, make)
        before = previous.earlier_inputs(project_root, commit, restore)
    runs = history.load_runs(project_root)
    found = page.collect(plan, project.lock, runs, places, plan_only, find, compared, html, before)
    if not html:
        markdown.write(found, sys.stdout)
        return
    try:
        written = page.write(found, folder)
    except OSError as exc:
        fail(f"cannot write the report: {exc.strerror or exc}")
    click.echo(f"report: {len(found.cards)} jobs in {written} (open {written.resolve().as_uri()})")


def _base(project: gitops_project.Project, lock: Path, rev: str, folder: Path) -> LockFile:
    """The lock as `rev` has it, its paths confined like the working lock's; or exit 1."""
    saved = previous.base_lock(project.root, lock, rev, folder)
    if saved is None:
        fail(f"--base {rev}: git has no {lock} at that revision (or this is no git repository)")
    try:
        found = LockFile.load(saved)
        gitops_project.check_confined(found, project.root, project.areas)
    except LockFileError as exc:
        fail(f"--base {rev}: {exc}")
    return found
