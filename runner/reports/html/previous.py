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
from wanform.runner.gitops.lockfile import LockEntry
from wanform.runner.reports.html.cards import Places, Thumbnailer, picture

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


def finder(
    root: Path, commit: str | None, jobs: Mapping[str, LockEntry], places: Places, make: Thumbnailer
) -> Callable[[str], list[dict]]:
    """`previous(key)`: the outputs `jobs[key]` names, as pictures; those the working copy no
    longer holds are restored from `commit` into REPORT/previous/ (checked against the sha256)."""

    def previous(key: str) -> list[dict]:
        shown = []
        for output in (jobs.get(key) or {}).get("outputs", []):
            digest = output.get("sha256")
            path: Path | None = root / output["path"]
            if _sha256(root / output["path"]) != digest:
                path = _restored(root, commit, output["path"], digest, places.report)
            if path is None:
                shown.append({"path": output["path"], "error": "not on disk, not in git"})
            else:
                shown.append(picture(path, places, make, own=True) | {"path": output["path"]})
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
