"""`wanform.lock`: what each job was, and what it made, as sorted JSON that diffs well in review.

One entry per job, keyed `recipe-path::job-name` (the recipe path relative to the project root,
with forward slashes), so entries written by different shards never touch the same lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from wanform.runner import versions
from wanform.runner.files.atomic import write_atomic

LOCK_NAME = "wanform.lock"


class LockFileError(ValueError):
    """The lock file exists but cannot be read as a wanform lock."""


def job_key(recipe_path: str, job_name: str) -> str:
    return f"{recipe_path}::{job_name}"


@dataclass
class LockFile:
    """The lock's entries by job key; `dump` renders them in one stable form."""

    path: Path
    jobs: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> LockFile:
        """Read the lock, or start an empty one when there is none yet."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise LockFileError(
                f"{path}: cannot read the lock file: {exc.strerror or exc}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise LockFileError(f"{path}: the lock file is not valid JSON: {exc}") from exc
        doc = _parse(path, text)
        if (
            not isinstance(doc, dict)
            or doc.get("version") != versions.LOCK
            or not isinstance(doc.get("jobs"), dict)
        ):
            raise LockFileError(f"{path}: not a version {versions.LOCK} wanform lock file")
        return cls(path, doc["jobs"])

    def task_ids(self) -> frozenset[str]:
        """The tasks the lock names: each is some job's, never another's lost one."""
        return frozenset(
            e["task_id"]
            for e in self.jobs.values()
            if isinstance(e, dict) and isinstance(e.get("task_id"), str)
        )

    def dump(self) -> str:
        doc = {"version": versions.LOCK, "jobs": self.jobs}
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def save(self) -> None:
        """Write atomically; an unchanged lock is left byte for byte as it was."""
        text = self.dump()
        try:
            if self.path.read_text(encoding="utf-8") == text:
                return
        except OSError:
            pass
        write_atomic(self.path, text.encode("utf-8"))


def _parse(path: Path, text: str) -> object:
    """The lock's JSON document; a LockFileError at the line and column json names, if it does."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockFileError(
            f"{path}:{exc.lineno}:{exc.colno}: the lock file is not valid JSON "
            "(a merge conflict left in it?)"
        ) from exc
    except ValueError as exc:  # json's other refusals carry no position: a number too long for int
        raise LockFileError(f"{path}: the lock file is not valid JSON: {exc}") from exc


def merge(locks: list[LockFile], into: Path, base: LockFile | None = None) -> LockFile:
    """Each job as the locks that changed it since `base` left it (no base: the union of shard
    locks); two locks changing one job differently is a conflict, never a silent pick."""
    before = base.jobs if base else {}
    merged = LockFile(into, dict(before))
    changed: dict[str, dict | None] = {}  # job key -> its entry in the locks that changed it
    for lock in locks:
        for key in sorted(lock.jobs.keys() | before.keys()):
            entry = lock.jobs.get(key)
            if entry == before.get(key):
                continue
            if key in changed and changed[key] != entry:
                raise LockFileError(
                    f"{lock.path}: job {key} differs from another lock's entry for it"
                )
            changed[key] = entry
            if entry is None:
                merged.jobs.pop(key, None)  # deleted (pruned) since the base
            else:
                merged.jobs[key] = entry
    return merged
