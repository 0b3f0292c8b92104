"""A click group that imports a command's module only when that command is asked for."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click


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
