"""`.wanform/plans.json`, the plan cache's file: its entries' shape, read and written here.

The file holds a context (the digest of the code, defaults and models its entries were made
with) and one entry per recipe. A file of another context, or an entry not of the shape below
(a damaged, hand-edited or foreign one), is not read: that is a cache miss, decided here, so the
code that serves entries trusts their shape and a bug in it is raised as one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NotRequired, TypedDict, TypeGuard

from wanform.runner.files.atomic import read_object, write_atomic
from wanform.runner.recipes.digest import canonical

FORMAT = 2  # bump when an entry's shape changes: it is part of every context

# JSON arrays of the file, as read: [line, column, code, message] and [body path, upstream, image]
WarningRow = tuple[int, int, str, str]
LinkRow = tuple[list[str | int | float], str, int]


class PlanJob(TypedDict):
    """One job of a held recipe: the digest of its request, or (when it takes another job's
    output) its body with local images identified and its links, to identify the rest afresh."""

    key: str
    model: str
    images: tuple[int, int]  # billable at most, and as asked
    digest: NotRequired[str]
    body: NotRequired[dict[str, object]]
    links: NotRequired[list[LinkRow]]


class PlanEntry(TypedDict):
    """A held recipe: its bytes' digest, its local inputs' digests, its warnings and its jobs."""

    source: str
    inputs: dict[str, str]
    warnings: list[WarningRow]
    jobs: list[PlanJob]


def read(path: Path, context: str) -> dict[str, PlanEntry]:
    """The entries of the file at `path` made in `context` and of the shape above; any other
    file (none, not JSON, another context) holds none."""
    doc = read_object(path)
    if doc is None or doc.get("context") != context:
        return {}
    recipes = doc.get("recipes")
    if not isinstance(recipes, dict):
        return {}
    return {name: entry for name, entry in recipes.items() if _is_entry(entry)}


def write(path: Path, context: str, entries: dict[str, PlanEntry]) -> None:
    write_atomic(path, (canonical({"context": context, "recipes": entries}) + "\n").encode())


def _is_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("source"), str)
        and _str_map(entry.get("inputs"))
        and _all(entry.get("warnings"), _is_warning)
        and _all(entry.get("jobs"), _is_job)
    )


def _is_job(job: object) -> bool:
    if not (
        isinstance(job, dict)
        and isinstance(job.get("key"), str)
        and isinstance(job.get("model"), str)
        and _all(job.get("images"), _is_int)
        and len(job["images"]) == 2
    ):
        return False
    if "digest" in job:
        return isinstance(job["digest"], str)
    body = job.get("body")
    return isinstance(body, dict) and _all(job.get("links"), lambda ln: _is_link(ln, body))


def _is_warning(item: object) -> bool:
    return (
        isinstance(item, list)
        and len(item) == 4
        and _is_int(item[0])
        and _is_int(item[1])
        and isinstance(item[2], str)
        and isinstance(item[3], str)
    )


def _is_link(link: object, body: dict[str, object]) -> bool:
    """[body path, upstream key, image index], the path leading to a value in `body`."""
    return (
        isinstance(link, list)
        and len(link) == 3
        and isinstance(link[1], str)
        and _is_int(link[2])
        and _reaches(body, link[0])
    )


def _reaches(body: object, path: object) -> bool:
    """Whether `path` (object keys and array indexes) leads to a value inside `body`."""
    if not isinstance(path, list) or not path:
        return False
    for part in path:
        if isinstance(body, dict) and isinstance(part, str):
            if part not in body:
                return False
            body = body[part]
        elif isinstance(body, list) and _is_int(part) and 0 <= part < len(body):
            body = body[part]
        else:
            return False
    return True


def _str_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _all(items: object, check: Callable[[object], bool]) -> bool:
    return isinstance(items, list) and all(check(item) for item in items)


def _is_int(value: object) -> TypeGuard[int]:
    return type(value) is int
