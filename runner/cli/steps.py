"""Steps several commands share: failing with a message, choosing the target, checking a
directory."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import click

from runner.api.errors import TargetError
from runner.api.targets import Target, resolve
from runner.exits import Exit


def fail(message: str, code: int = Exit.INVALID) -> NoReturn:
    """Print `error: message` on stderr and exit with `code`."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def check_writable(option: str, directory: Path) -> None:
    """Exit 1 before anything is sent when files cannot be written in `directory` (made if
    missing)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        fail(f"{option}: cannot write in {directory}: {exc.strerror or exc}; nothing was sent")


def resolve_target(choice: str | None, env: Mapping[str, str] | None = None) -> Target:
    """The target `--target` names (or the environment chooses), or exit 1 saying why not."""
    try:
        return resolve(choice, os.environ if env is None else env)
    except TargetError as exc:
        fail(exc.message)
