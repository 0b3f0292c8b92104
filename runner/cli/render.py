"""`wanform render`: each job's request as the curl command that would send it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import click

from wanform.runner.api.errors import TargetError
from wanform.runner.api.targets import LOCAL_EMULATOR_URL, sdk_base_url
from wanform.runner.cli.options import root_option, variants_option
from wanform.runner.cli.steps import fail, resolve_target
from wanform.runner.cli.validate import opened, validated
from wanform.runner.reports.curl import write_curls
from wanform.spec.models import ModelSpec


def _base_url(target: str | None, env: Mapping[str, str]) -> str:
    """Whose base URL the commands use: DashScope's as the SDK resolves it from `env`, unless told
    otherwise."""
    try:
        if target in (None, "dashscope"):
            return sdk_base_url(env)
        return LOCAL_EMULATOR_URL if target == "emulator" else resolve_target(target, env).base_url
    except TargetError as exc:
        fail(exc.message)


@click.command("render")
@click.argument("paths", nargs=-1, type=click.Path(), required=True, metavar="RECIPE...")
@click.option(
    "--target",
    metavar="TARGET",
    help="Whose base URL the commands use: default the project file's `target`, else DashScope's "
    "(from the environment and the project's `region`, as the SDK resolves it); `emulator` means a "
    "local `wanform emulator` on port 8000.",
)
@click.option(
    "--sync", "synchronous", is_flag=True, help="The sync endpoint where the model has one."
)
@click.option(
    "--short", is_flag=True, help="Abbreviate data URIs (the output can then no longer be sent)."
)
@root_option()
@variants_option
def render(
    paths: tuple[str, ...],
    target: str | None,
    synchronous: bool,
    short: bool,
    root: str | None,
    models: Mapping[str, ModelSpec],
) -> None:
    """Print each job's exact request as a curl command, without sending anything.

    The key is written as $DASHSCOPE_API_KEY for the shell to fill in; the project's defaults are
    merged in.
    """
    project = opened(root, "text", models)
    validation = validated(paths, project, "text")
    base_url = _base_url(target or project.file.target, project.file.environment(dict(os.environ)))
    write_curls(validation.jobs, base_url, sys.stdout, synchronous, short)
