"""`wanform validate` and `wanform schema`, and the validation step `run`, `render` and `plan`
share."""

from __future__ import annotations

import sys
from collections.abc import Mapping

import click

from wanform.runner.cli.options import root_option, variants_option
from wanform.runner.exits import Exit
from wanform.runner.recipes.check import Validation, validate_paths
from wanform.runner.recipes.projectfile import ProjectFile, open_project
from wanform.runner.reports.validation import REPORTERS
from wanform.spec.models import MODELS, ModelSpec
from wanform.spec.problems import Finding, Report
from wanform.spec.schemagen import recipe_schema, request_schema, schema_text


def project_at(root: str | None, fmt: str = "text") -> ProjectFile:
    """The project `--root` names or the one found walking up; or its wanform.yaml's problems
    printed as `validate -o FMT` prints a recipe's, and exit 1."""
    project = open_project(root)
    if project.problems:
        shown = project.problems[0][0].file
        result = Validation(Report(files=[shown]), [], invalid={shown})
        for location, problem in project.problems:
            result.report.add(location, [problem])
        REPORTERS[fmt](result, sys.stdout, False)
        sys.exit(Exit.INVALID)
    return project


def targets(paths: tuple[str, ...], project: ProjectFile) -> list[str]:
    """What to validate: `paths`, else the project's recipes, else the root's recipes/."""
    return list(paths) or (
        [str(p) for p in project.recipe_files()]
        if project.path
        else [str(project.root / "recipes")]
    )


def checked(
    paths: tuple[str, ...], project: ProjectFile, models: Mapping[str, ModelSpec]
) -> Validation:
    """The recipes under `paths` checked (default: the project's recipes, else the root's
    recipes/); says so on stderr if there are none."""
    result = validate_paths(
        targets(paths, project), root=project.root, models=models, project=project
    )
    if not result.recipes and not result.invalid:
        shown = ", ".join(
            paths or (project.globs if project.path else (str(project.root / "recipes"),))
        )
        click.echo(f"error: no recipe files (*.yaml, *.yml) under {shown}", err=True)
    return result


def validated(
    paths: tuple[str, ...], project: ProjectFile, fmt: str, models: Mapping[str, ModelSpec]
) -> Validation:
    """Valid recipes, their warnings on stderr; or the report as `validate -o FMT` prints it, and
    exit 1."""
    result = checked(paths, project, models)
    if not (result.report.ok() and result.recipes):
        REPORTERS[fmt](result, sys.stdout, False)
        sys.exit(Exit.INVALID)
    echo_warnings(result.report.warnings())
    return result


def echo_warnings(findings: list[Finding]) -> None:
    for finding in findings:
        p = finding.problem
        click.echo(f"{finding.location}: {p.severity}[{p.code}]: {p.message}", err=True)


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
    result = checked(paths, project_at(root, fmt), models)
    for note in result.notes if verbose else []:
        click.echo(f"note: {note}", err=True)
    REPORTERS[fmt](result, sys.stdout, strict)
    sys.exit(Exit.OK if result.report.ok(strict) and result.recipes else Exit.INVALID)


@click.command()
@click.option(
    "--model",
    type=click.Choice(list(MODELS)),
    help="Print this model's request body schema instead.",
)
def schema(model: str | None) -> None:
    """Print the recipe JSON Schema (or a model's request schema)."""
    click.echo(schema_text(request_schema(MODELS[model]) if model else recipe_schema()), nl=False)
