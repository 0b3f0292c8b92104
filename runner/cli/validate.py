"""`wanform validate` and `wanform schema`, and how the commands open a project and report
invalid recipes (printed as `validate` prints them, then exit 1)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import NoReturn

import click

from wanform.runner.app.errors import InvalidRecipes, ProjectFileError
from wanform.runner.app.project import Project
from wanform.runner.app.validating import valid, warning_line
from wanform.runner.cli.options import root_option, variants_option
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
def schema(model: str | None) -> None:
    """Print the recipe JSON Schema (or a model's request schema)."""
    click.echo(schema_text(request_schema(MODELS[model]) if model else recipe_schema()), nl=False)
