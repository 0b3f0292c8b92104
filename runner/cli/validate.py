"""`wanform validate`, `wanform schema` and `wanform init` (a project, its recipes and their
schemas), and how the commands open a project and report invalid recipes (printed as `validate`
prints them, then exit 1)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import click

from wanform.runner.app.errors import DestinationError, InvalidRecipes, ProjectFileError
from wanform.runner.app.project import Project
from wanform.runner.app.scaffold import init_project, write_schemas
from wanform.runner.app.validating import valid, warning_line
from wanform.runner.cli.options import root_option, variants_option
from wanform.runner.cli.steps import fail
from wanform.runner.exits import Exit
from wanform.runner.recipes.check import Validation
from wanform.runner.reports.validation import REPORTERS
from wanform.spec.models import MODELS, ModelSpec
from wanform.spec.problems import Finding
from wanform.spec.schemagen import recipe_schema, request_schema, schema_text


def opened(root: str | None, fmt: str, models: Mapping[str, ModelSpec]) -> Project:
    """The project `--root` names or the one found walking up; or its wanform.yaml's problems
    printed as `validate -o FMT` prints a recipe's, and exit 1."""
    try:
        return Project(root, models=models)
    except ProjectFileError as exc:
        REPORTERS[fmt](exc.validation, sys.stdout, False)
        sys.exit(Exit.INVALID)


def report_invalid(exc: InvalidRecipes, fmt: str) -> NoReturn:
    """Print invalid recipes as `validate -o FMT` does (where none was found on stderr), and exit
    1."""
    if exc.missing:
        click.echo(f"error: {exc.missing}", err=True)
    REPORTERS[fmt](exc.validation, sys.stdout, False)
    sys.exit(Exit.INVALID)


def validated(paths: tuple[str, ...], project: Project, fmt: str) -> Validation:
    """Valid recipes, their warnings on stderr; or the report as `validate -o FMT` prints it, and
    exit 1."""
    try:
        result = valid(paths, project.file, project.models)
    except InvalidRecipes as exc:
        report_invalid(exc, fmt)
    echo_warnings(result.warnings)
    return result.validation


def echo_warnings(findings: list[Finding]) -> None:
    for finding in findings:
        click.echo(warning_line(finding), err=True)


@click.command()
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
    "-v", "--verbose", is_flag=True, help="Also say which project defaults a recipe does not take."
)
@root_option()
@variants_option
def validate(
    paths: tuple[str, ...],
    fmt: str,
    strict: bool,
    verbose: bool,
    root: str | None,
    models: Mapping[str, ModelSpec],
) -> None:
    """Check recipes (default: recipes/) against the spec, without sending anything.

    One line per problem, `path:line:col: error[CODE]: message`, then a summary.
    Exit 0 when every recipe is valid, 1 otherwise.
    """
    result = opened(root, fmt, models).validate(paths)
    if result.missing:
        click.echo(f"error: {result.missing}", err=True)
    for note in result.validation.notes if verbose else []:
        click.echo(f"note: {note}", err=True)
    REPORTERS[fmt](result.validation, sys.stdout, strict)
    sys.exit(Exit.OK if result.ok(strict) else Exit.INVALID)


@click.command()
@click.option(
    "--model",
    type=click.Choice(list(MODELS)),
    help="Print this model's request body schema instead.",
)
@click.option(
    "--write",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the recipe and project schemas into this folder instead (rewriting them), for "
    "the first-line comments of recipes and wanform.yaml to point at.",
)
def schema(model: str | None, directory: Path | None) -> None:
    """Print the recipe JSON Schema (or a model's request schema), or write the editor's."""
    if directory is None:
        click.echo(
            schema_text(request_schema(MODELS[model]) if model else recipe_schema()), nl=False
        )
        return
    try:
        written = write_schemas(directory)
    except DestinationError as exc:
        fail(exc.message)
    for path in written:
        click.echo(f"wrote {path}")


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Start a project in DIRECTORY (default: the current folder), writing over nothing.

    It writes wanform.yaml with its defaults commented, an example recipe and its image in
    recipes/, the JSON Schemas editors check both with in schemas/ (the files' first-line
    comments point there), and adds .wanform/ and report/ to .gitignore. Exit 1, writing
    nothing, when one of these files exists.
    """
    try:
        written = init_project(directory)
    except DestinationError as exc:
        fail(exc.message)
    for path in written:
        click.echo(f"wrote {path}")
    enter = "" if directory == Path(".") else f"cd {shlex.quote(str(directory))} && "
    click.echo(f"next: {enter}wanform validate && wanform run  (no key: offline, nothing billed)")
