"""The `wanform` command line."""

from __future__ import annotations

import json
import sys

import click

from spec.models import MODELS, describe_variants, parse_variants, table
from spec.schemagen import recipe_schema, render, request_schema

from runner.reporters import REPORTERS
from runner.validate import validate_paths

EXIT_OK, EXIT_INVALID = 0, 1


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wanform")
def main() -> None:
    """Declarative, reproducible image jobs for DashScope's Wan image models.

    \b
    Exit codes:
      0  success
      1  invalid input: a recipe, or a path that holds none
      2  usage error: an unknown option or a bad option value
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-o", "--output", "fmt", type=click.Choice(sorted(REPORTERS)), default="text", show_default=True,
              help="Report format.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--root", type=click.Path(exists=True, file_okay=False), default=".", show_default=True,
              help="Project root; local image paths must stay inside it.")
@click.option("--variants", envvar="WANFORM_VARIANTS", metavar="KEY=VALUE,...",
              help=f"Which document to follow where the API pages disagree ({describe_variants()}).")
def validate(paths: tuple[str, ...], fmt: str, strict: bool, root: str, variants: str | None) -> None:
    """Check recipes (default: recipes/) against the spec, without sending anything.

    One line per problem, `path:line:col: error[CODE]: message`, then a summary.
    Exit 0 when every recipe is valid, 1 otherwise.
    """
    targets = list(paths) or ["recipes"]
    result = validate_paths(targets, root=root, models=_models(variants))
    if not result.recipes and not result.invalid:
        click.echo(f"error: no recipe files (*.yaml, *.yml) under {', '.join(targets)}", err=True)
    REPORTERS[fmt](result, sys.stdout, strict)
    sys.exit(EXIT_OK if result.report.ok(strict) and result.recipes else EXIT_INVALID)


def _models(variants: str | None):
    """The model table with the documents' disagreements resolved as the user asked."""
    try:
        return table(parse_variants(variants))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--variants / WANFORM_VARIANTS") from exc


@main.command()
@click.option("--model", type=click.Choice(list(MODELS)), help="Print this model's request body schema instead.")
def schema(model: str | None) -> None:
    """Print the recipe JSON Schema (or a model's request schema)."""
    click.echo(render(request_schema(MODELS[model]) if model else recipe_schema()), nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
