"""The areas wanform reads, writes and deletes in (the project, the output folder), and the
symbolic links and `..` that would lead a path out of them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from wanform.runner.api.errors import WanformError

STATE_DIR = ".wanform"  # the project's working state: journal, run guard, hash cache


class OutsideError(WanformError):
    """A path read from the lock, the journal or a sidecar, or a folder a run writes in, leads out
    of the project and the output folder."""

    code = "PathOutside"
    hint = "wanform reads and deletes files only there; fix or remove that entry"


def within(path: str | os.PathLike, areas: Iterable[Path]) -> bool:
    """Whether `path`, with `..` and symlinks resolved, lies inside one of `areas` (a symlink loop
    lies nowhere)."""
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError):  # a loop: RuntimeError before Python 3.13, OSError since
        return False
    return any(real.is_relative_to(area.resolve()) for area in areas)


def link_out(folder: Path, area: Path, inside: set[Path]) -> Path | None:
    """The first step on the way down from `area` to `folder` (written inside it, without `..`)
    that a symlink leads out of `area`; None when every step stays in. `inside` holds the steps
    known to stay in (a run's folders share theirs), and takes those found to."""
    step = area
    for part in folder.relative_to(area).parts:
        step = step / part
        if step in inside:
            continue
        # below a step that stays in, only a symlink can lead out: most steps cost one lstat
        if os.path.islink(step) and not within(step, (area,)):
            return step
        inside.add(step)
    return None


def check_links(folders: Iterable[Path], area: Path, name: str) -> None:
    """OutsideError naming the first symlink that leads one of `folders` out of `area` (`name`
    says what `area` is: the project, the output folder)."""
    area = Path(os.path.abspath(area))
    inside: set[Path] = set()
    for folder in folders:
        link = link_out(Path(os.path.abspath(folder)), area, inside)
        if link is not None:
            shown = link.relative_to(area).as_posix()
            raise OutsideError(
                f"{shown} is a symbolic link out of {name} (-> {os.readlink(link)}); wanform "
                f"writes and deletes only inside {name}: make {shown} a folder, or link it inside"
            )
