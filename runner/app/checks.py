"""Checks made before anything is sent, light enough for commands that load no recipe: the target
usable, a folder writable."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from wanform.runner.api.errors import TargetError
from wanform.runner.api.targets import Target, resolve
from wanform.runner.app.errors import DestinationError, SettingError

if TYPE_CHECKING:
    from wanform.runner.recipes.projectfile import ProjectFile


def target_of(
    project: ProjectFile, choice: str | None, env: Mapping[str, str], sending: bool = True
) -> Target:
    """The target of a project's jobs: `choice`, else the project file's, else the environment's
    (`plan` and `report` judge the lock against the same one); SettingError if it is unusable.
    One nothing is sent to needs no key."""
    try:
        return resolve(choice or project.target, project.environment(dict(env)), sending)
    except TargetError as exc:
        raise SettingError(exc.message) from None


def check_writable(option: str, directory: Path) -> None:
    """DestinationError, before anything is sent, when files cannot be written in `directory`
    (made if missing)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise DestinationError(
            f"{option}: cannot write in {directory}: {exc.strerror or exc}; nothing was sent"
        ) from None
