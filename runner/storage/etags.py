"""`.wanform/objects.json`: the digest each stored object's metadata gave, by URI, with the ETag it
had then; while a listing shows the same ETag, the object is the same and needs no HEAD (as the
hash cache trusts a file's size and mtime)."""

from __future__ import annotations

import json
from pathlib import Path

from wanform.runner.files.atomic import read_object, write_atomic

OBJECTS = "objects.json"  # beside the stage, in the project's `.wanform/`

# an object's URI -> [its ETag, `sha256:<hex>` from its metadata]
Known = dict[str, list[str]]


def read_known(path: Path) -> Known:
    """The cache at `path`; empty when there is none or it is not one (a miss: HEAD again)."""
    return {
        uri: entry
        for uri, entry in (read_object(path) or {}).items()
        if isinstance(entry, list) and len(entry) == 2 and all(isinstance(v, str) for v in entry)
    }


def save_known(path: Path, known: Known) -> None:
    text = json.dumps(dict(sorted(known.items())), separators=(",", ":")) + "\n"
    write_atomic(path, text.encode("utf-8"))
