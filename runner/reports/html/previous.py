"""A changed job's previous outputs: the files its lock entry names, from the working copy while
they still hold those bytes, else from the commit that last changed the lock (`git show`)."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path

from runner.engine.outputs import write_atomic
from runner.reports.html.cards import Places, Thumbnailer, picture

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


def finder(root: Path, lock: Path, places: Places, make: Thumbnailer) -> Callable[[dict], list]:
    """`previous(entry)`: the entry's outputs as pictures; those the working copy no longer holds
    are restored from git into REPORT/previous/ (verified against the lock's sha256)."""
    commit = lock_commit(root, lock)

    def previous(entry: dict) -> list[dict]:
        shown = []
        for output in entry.get("outputs", []):
            path, digest = root / output["path"], output.get("sha256")
            if _sha256(path) != digest:
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
    data = _git(root, "show", f"{commit}:{name}")
    if data is None or "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        return None
    target = report / "previous" / digest.removeprefix("sha256:")[:32] / Path(name).name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
    return target
