"""`.wanform/plans.json`, the plan cache's file: its entries' shape, read and written here.

The file's first line is a header: the context (the digest of the code, defaults and models its
entries were made with) and the sha256 of the rest, the entries, one per recipe. A file of
another context, or whose entries are not the bytes the header names (a damaged, cut short or
hand-edited one), is not read: that is a cache miss, decided here. Only `write` makes entries, of
the shape below, so the code that serves them trusts it and a bug in it is raised as one; entries
are not checked one by one on every read (that took a tenth of a warm plan of 20,000 jobs).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import NotRequired, TypedDict

from wanform.runner.files.atomic import write_atomic
from wanform.runner.recipes.digest import canonical

FORMAT = 3  # bump when an entry's shape changes: it is part of every context

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
    """The entries of the file at `path` when it was made in `context` and is as written; any
    other file (none, damaged, edited, another context) holds none."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    head, _, body = data.partition(b"\n")
    if head != _header(context, body):
        return {}
    entries: dict[str, PlanEntry] = json.loads(body)
    return entries


def write(path: Path, context: str, entries: dict[str, PlanEntry]) -> None:
    body = (canonical(entries) + "\n").encode()
    write_atomic(path, _header(context, body) + b"\n" + body)


def _header(context: str, body: bytes) -> bytes:
    """The first line of the file of `body` made in `context` (canonical JSON has no newline)."""
    return canonical({"context": context, "sha256": hashlib.sha256(body).hexdigest()}).encode()
