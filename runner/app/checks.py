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
from wanform.runner.files.areas import STATE_DIR
from wanform.runner.storage.errors import StoreError
from wanform.runner.storage.location import Location, is_stored

if TYPE_CHECKING:
    from wanform.runner.recipes.projectfile import ProjectFile
    from wanform.runner.storage.s3 import Store


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


def store_of(project: ProjectFile, out: str, env: Mapping[str, str]) -> Store | None:
    """The object store an `out` of `s3://bucket/prefix` names (its images pass through a stage
    in `.wanform/`), None for a folder; SettingError when it cannot be used as written."""
    if not is_stored(out):
        return None
    from wanform.runner.storage.s3 import STAGE, Store, StoreSettings  # here: folders need no loop

    storage = StoreSettings(**project.storage)
    try:
        location = Location.parse(out)
        storage.client_config()
    except StoreError as exc:
        raise SettingError(exc.line()) from None
    return Store(location, storage, env, project.root / STATE_DIR / STAGE)


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
