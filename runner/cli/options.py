"""Command-line options that several commands share."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import click

from wanform.spec.models import ModelSpec, describe_variants, parse_variants, table

TARGET_HELP = (
    "emulator, dashscope, or a base URL such as http://127.0.0.1:8000/api/v1. Default: dashscope "
    "when DASHSCOPE_API_KEY is set (base URL from DASHSCOPE_HTTP_BASE_URL, DASHSCOPE_API_REGION, "
    "DASHSCOPE_WORKSPACE_ID, as the official SDK resolves it), else the embedded emulator."
)


def _model_table(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> Mapping[str, ModelSpec]:
    try:
        return table(parse_variants(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--variants / WANFORM_VARIANTS") from exc


# The model table, with the API pages' disagreements resolved as the user asks; commands receive it
# as `models`.
variants_option = click.option(
    "--variants",
    "models",
    envvar="WANFORM_VARIANTS",
    metavar="KEY=VALUE,...",
    callback=_model_table,
    help="Which answer to assume where the API pages disagree or are silent (spec/guesses.yaml; "
    f"the first value is the default): {describe_variants()}.",
)


def root_option(text: str = "Project root; local image paths must stay inside it.") -> Callable:
    """`--root`: the project folder, which must exist; `text` says what the command keeps there.
    Without it the project is the nearest folder up from here holding wanform.yaml, else here."""
    return click.option(
        "--root",
        type=click.Path(exists=True, file_okay=False),
        default=None,
        help=f"{text} Default: the nearest folder holding wanform.yaml, else the current one.",
    )


# The target `plan` and `report` judge the lock against: a job made on another one is changed.
PLAN_TARGET_HELP = (
    "The target a run would use, chosen as `run --target` (its default the same); a job the lock "
    "records as made on another target (or DashScope region) is changed. Nothing is sent."
)

# Where `run` sends its requests.
target_option = click.option("--target", metavar="TARGET", help=TARGET_HELP)

# Where `status` and `cancel` send theirs: where the task was made, with the key that made it.
task_target_option = click.option(
    "--target",
    metavar="TARGET",
    help="dashscope (the default; needs DASHSCOPE_API_KEY) or the base URL the task was submitted "
    "to, such as http://127.0.0.1:8000/api/v1 (with the key it was submitted with, as "
    "DASHSCOPE_API_KEY: tasks belong to a key).",
)
