"""A changed job's previous outputs: the files its entry in the lock names, from the working copy
while they still hold those bytes, else from git (`git show`): from the commit that last changed
the lock, or from `--base REV` when the plan compares with the lock as REV has it."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from wanform.runner.files.atomic import write_atomic
from wanform.runner.gitops.fingerprint import field_value
from wanform.runner.gitops.lockfile import LockEntry
from wanform.runner.reports.html.cards import Places, Thumbnailer, picture, stored_picture
from wanform.runner.reports.html.changes import Before
from wanform.runner.storage.location import is_stored

GIT_TIMEOUT = 30.0


def _sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def _git(root: Path, *args: str) -> bytes | None:
    """git's stdout, or None when git is missing, the root is no repository, or it fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def lock_commit(root: Path, lock: Path) -> str | None:
    """The commit that last changed the lock file, or None outside git or for an untracked lock."""
    found = _git(root, "log", "-1", "--format=%H", "--", str(lock.resolve()))
    text = found.decode().strip() if found else ""
    return text or None


def base_lock(root: Path, lock: Path, rev: str, folder: Path) -> Path | None:
    """The lock as commit `rev` has it, saved as REPORT/previous/base.lock; None if git has not
    it (no repository, no such revision, or no lock there)."""
    relative = Path(os.path.relpath(lock.resolve(), root.resolve())).as_posix()
    data = _git(root, "show", f"{rev}:./{relative}")
    if data is None:
        return None
    target = folder / "previous" / "base.lock"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, data)
    return target


def restorer(
    root: Path, commit: str | None, places: Places, make: Thumbnailer
) -> Callable[[str, str | None, bool], dict | None]:
    """`restore(name, digest, own)`: the picture of the file `name` (from the root) as it was
    when its sha256 was `digest`: from the working copy while it still holds those bytes, else
    restored from `commit` into REPORT/previous/; None when neither has it."""

    def restore(name: str, digest: str | None, own: bool) -> dict | None:
        path: Path | None = root / name
        if _sha256(root / name) != digest:
            path = _restored(root, commit, name, digest, places.report)
        return None if path is None else picture(path, places, make, own) | {"path": name}

    return restore


def earlier_inputs(
    root: Path, commit: str | None, restore: Callable[[str, str | None, bool], dict | None]
) -> Before:
    """`before(image, recorded)` for `changes`: an input image (a card's) as `commit` holds its
    file, when that is the image the lock's field recorded."""

    def before(image: dict, recorded: str) -> dict | None:
        source = image.get("source")
        data = _git(root, "show", f"{commit}:./{source}") if source and commit else None
        if source is None or data is None:
            return None
        identity = "sha256:" + hashlib.sha256(data).hexdigest()
        if field_value(identity) != recorded:
            return None
        return restore(source, identity, "upstream" in image)

    return before


def finder(
    root: Path, commit: str | None, jobs: Mapping[str, LockEntry], places: Places, make: Thumbnailer
) -> Callable[[str], list[dict]]:
    """`previous(key)`: the outputs `jobs[key]` names, as pictures (see `restorer`)."""
    restore = restorer(root, commit, places, make)

    def previous(key: str) -> list[dict]:
        shown = []
        for output in (jobs.get(key) or {}).get("outputs", []):
            if is_stored(output["path"]):
                shown.append(stored_picture(output, places))
                continue
            found = restore(output["path"], output.get("sha256"), True)
            shown.append(found or {"path": output["path"], "error": "not on disk, not in git"})
        return shown

    return previous


def _restored(
    root: Path, commit: str | None, name: str, digest: str | None, report: Path
) -> Path | None:
    """The file as `commit` holds it, saved under REPORT/previous/; None if git has not it."""
    if commit is None or not digest:
        return None
    data = _git(root, "show", f"{commit}:./{name}")
    if data is None or "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        return None
    target = report / "previous" / digest.removeprefix("sha256:")[:32] / Path(name).name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
    return target
