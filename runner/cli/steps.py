"""Steps several commands share: failing with a message, choosing the target, checking a
directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from wanform.runner.api.errors import TargetError
from wanform.runner.api.targets import Target, resolve
from wanform.runner.app import checks
from wanform.runner.app.errors import DestinationError, SettingError
from wanform.runner.exits import Exit

if TYPE_CHECKING:  # not imported at run time: `status` and `cancel` start without it
    from wanform.runner.recipes.projectfile import ProjectFile
    from wanform.runner.storage.s3 import Store


def fail(message: str, code: int = Exit.INVALID) -> NoReturn:
    """Print `error: message` on stderr and exit with `code`."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def check_writable(option: str, directory: Path) -> None:
    """Exit 1 before anything is sent when files cannot be written in `directory` (made if
    missing)."""
    try:
        checks.check_writable(option, directory)
    except DestinationError as exc:
        fail(exc.message)


def resolve_target(
    choice: str | None, env: Mapping[str, str] | None = None, sending: bool = True
) -> Target:
    """The target `--target` names (or the environment chooses), or exit 1 saying why not; one
    nothing is sent to needs no key."""
    try:
        return resolve(choice, os.environ if env is None else env, sending)
    except TargetError as exc:
        fail(exc.message)


def project_store(project: ProjectFile, out: str) -> Store | None:
    """The store an `out` of `s3://...` names (None for a folder), or exit 1 saying why not."""
    try:
        return checks.store_of(project, out, os.environ)
    except SettingError as exc:
        fail(exc.message)


def project_target(choice: str | None, project: ProjectFile, sending: bool = True) -> Target:
    """The target of a project's jobs as `run` chooses it: `--target`, else the project file's,
    else the environment's choice (`plan` and `report` judge the lock against the same one); or
    exit 1 saying why not."""
    try:
        return checks.target_of(project, choice, os.environ, sending)
    except SettingError as exc:
        fail(exc.message)
