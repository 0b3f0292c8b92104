"""The `wanform` command line.

Each command lives in the module of its group (validate, run, render, gitops, tasks, emulator,
contract, report) and is imported only when it is used, so `wanform --help` and `wanform validate`
start fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

from wanform.runner.exits import help_text


class LazyGroup(click.Group):
    """Commands given as name -> (`module:attribute`, short help).

    `wanform --help` lists the names and short helps without importing a single command module;
    running a command, or asking for its own help, imports its module alone.
    """

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(import_command(self.lazy_commands[cmd_name][0]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing click prints, made from stand-ins that carry only the stored short help."""
        stand_ins = {
            name: click.Command(name, help=summary)
            for name, (_, summary) in self.lazy_commands.items()
        }
        click.Group(commands={**stand_ins, **self.commands}).format_commands(ctx, formatter)


def import_command(target: str) -> click.Command:
    """The command at `module:attribute`."""
    module, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


# name -> (where the command is, the first sentence of its help: the line `wanform --help` shows)
COMMANDS = {
    "cancel": (
        "wanform.runner.cli.tasks:cancel",
        "Cancel a task; DashScope cancels only tasks still PENDING.",
    ),
    "contract": (
        "wanform.runner.cli.contract:contract",
        "The parity suite: record what a target answers, or check a target against snapshots.",
    ),
    "emulator": (
        "wanform.runner.cli.emulator:emulator",
        "Serve the offline DashScope emulator until Ctrl-C or SIGTERM (then exit 0 within 2 s); "
        "prints its base URL and its dashboard's.",
    ),
    "init": (
        "wanform.runner.cli.validate:init",
        "Start a project in DIRECTORY (default: the current folder), writing over nothing.",
    ),
    "merge-locks": (
        "wanform.runner.cli.gitops:merge_locks",
        "Merge the lock files that the shards of a CI matrix wrote into one.",
    ),
    "plan": (
        "wanform.runner.cli.gitops:plan",
        "Compare recipes (default: recipes/) with the lock file and the outputs on disk.",
    ),
    "render": (
        "wanform.runner.cli.render:render",
        "Print each job's exact request as a curl command, without sending anything.",
    ),
    "report": (
        "wanform.runner.cli.report:report",
        "Write a report of the jobs (default: recipes/) as REPORT-DIR/index.html.",
    ),
    "run": (
        "wanform.runner.cli.run:run",
        "Run recipes (default: recipes/): submit, poll, download the images into --out.",
    ),
    "schema": (
        "wanform.runner.cli.validate:schema",
        "Print the recipe JSON Schema (or a model's request schema), or write the editor's.",
    ),
    "status": (
        "wanform.runner.cli.tasks:status",
        "Show a task's status, times and result files (URLs without their signatures).",
    ),
    "validate": (
        "wanform.runner.cli.validate:validate",
        "Check recipes (default: recipes/) against the spec, without sending anything.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Declarative, reproducible image jobs for DashScope's Wan image models.\n" + help_text(),
)
@click.version_option(package_name="wanform")
def main() -> None:
    pass
