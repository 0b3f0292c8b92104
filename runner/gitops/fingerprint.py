"""A job's fingerprint: sha256 over the canonical request, with input images by content, not by
name.

Renaming an image changes nothing; changing one byte of it changes the job. Image hashes are
cached in `.wanform/hashes.json` by path, size and mtime, so an unchanged tree is not re-read.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from wanform.runner.files.areas import STATE_DIR
from wanform.runner.files.atomic import read_object, write_atomic
from wanform.runner.files.hashes import file_sha256
from wanform.runner.recipes.build import BuiltRequest
from wanform.runner.recipes.digest import canonical, request_digest
from wanform.spec import datauri
from wanform.spec.problems import Path, json_path

HASH_CACHE = FsPath(STATE_DIR) / "hashes.json"
# hashes.json: a file's path relative to the root -> [size, mtime in ns, "sha256:<hex>"]
HashEntry = tuple[int, int, str]
LONG_TEXT = 64  # longer strings appear in the lock's field list as their hash


ROW_FIELD = "row: "  # the fields of a job's row, as the lock and `plan` name them


def sha256_text(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def field_value(value: object) -> object:
    """A declared value as the lock's field list keeps it: a long string as its hash."""
    if isinstance(value, str) and len(value) > LONG_TEXT:
        return sha256_text(value)
    return value


class HashCache:
    """sha256 of files, remembered by (size, mtime) in the project's `.wanform/` between runs."""

    def __init__(self, root: FsPath) -> None:
        self.root = root
        self.path = root / HASH_CACHE
        self.entries = _read_hashes(self.path)
        self.dirty = False
        # for the cache's life (one plan or run), so jobs sharing a file do not repeat them
        self._keys: dict[FsPath, str] = {}  # a file's path -> its key in `entries`
        self._inputs: dict[tuple[str, str], FsPath] = {}  # (recipe, `path:` value) -> the file
        # the digests stored objects' metadata gave just before a plan, by URI (None: gone)
        self.stored: dict[str, str | None] = {}

    def file(self, path: FsPath) -> str:
        stat = path.stat()
        key = self._keys.get(path)
        if key is None:
            key = self._keys[path] = os.path.relpath(path, self.root)
        known = self.entries.get(key)
        if known and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        with open(path, "rb") as fh:
            value = "sha256:" + file_sha256(fh)
        self.entries[key] = (stat.st_size, stat.st_mtime_ns, value)
        self.dirty = True
        return value

    def input(self, recipe: str, value: str) -> str:
        """`file` of the input a recipe (its absolute path) names with `path: value`."""
        path = self._inputs.get((recipe, value))
        if path is None:
            path = self._inputs[recipe, value] = (FsPath(recipe).parent / value).resolve()
        return self.file(path)

    def save(self) -> None:
        if self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, (canonical(dict(sorted(self.entries.items()))) + "\n").encode())
            self.dirty = False


def _read_hashes(path: FsPath) -> dict[str, HashEntry]:
    """The entries of the hash cache at `path`; none from a file that is not one, and none
    that is not of the shape `HashEntry` (a damaged cache is a miss: files are hashed again)."""
    return {
        name: (entry[0], entry[1], entry[2])
        for name, entry in (read_object(path) or {}).items()
        if isinstance(entry, list)
        and len(entry) == 3
        and all(type(n) is int for n in entry[:2])
        and isinstance(entry[2], str)
    }


def _image_identity(request: BuiltRequest, index: int, hashes: HashCache) -> str:
    """What identifies an input image: its bytes' hash, or for a remote image its URL."""
    ref = request.images[index]
    if ref.kind == "path":
        return hashes.input(request.job.recipe.resolved, ref.value)
    if ref.kind == "data":
        uri = datauri.parse(ref.value)
        payload = base64.b64decode(uri.payload if uri else "", validate=False)
        return "sha256:" + hashlib.sha256(payload).hexdigest()
    return ref.value


def _flatten(value: object, prefix: Path = ()) -> dict[str, object]:
    if isinstance(value, dict):
        return {
            k: v for key in sorted(value) for k, v in _flatten(value[key], prefix + (key,)).items()
        }
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return {
            k: v for i, item in enumerate(value) for k, v in _flatten(item, prefix + (i,)).items()
        }
    return {json_path(prefix): field_value(value)}


def _declared(request: BuiltRequest, identities: dict[Path, str]) -> dict:
    """The job as its recipe declares it, images by identity: the lock's readable field list."""
    values = {
        k: v for k, v in request.job.values.items() if k not in ("name", "description", "matrix")
    }
    values["n"] = request.body["parameters"]["n"]
    by_recipe = {ref.recipe_path: identities[ref.body_path] for ref in request.images}
    if "inputs" in values:
        values["inputs"] = [
            {
                **{k: v for k, v in entry.items() if k not in ("path", "url", "data")},
                "image": by_recipe.get(("inputs", i), ""),
            }
            for i, entry in enumerate(values["inputs"])
        ]
    if "mask" in values:
        values["mask"] = by_recipe.get(("mask",), "")
    # a data-driven job's row, cell by cell: `plan` says which cell changed
    values.update({f"{ROW_FIELD}{column}": cell for column, cell in request.job.fields.items()})
    return values


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The digest of a job's request, and the job's declared fields (to say *what* changed)."""

    digest: str
    fields: dict[str, object]
    images: Mapping[Path, str] = field(default_factory=dict)  # the identities it was made with


def fingerprint(
    request: BuiltRequest, hashes: HashCache, linked: Mapping[Path, str] | None = None
) -> Fingerprint:
    """Fingerprint a built request, reading its local images through the hash cache; `linked`
    gives the identity of each input that is another job's output (wanform.runner.gitops.links)."""
    identities = {
        ref.body_path: _image_identity(request, i, hashes) for i, ref in enumerate(request.images)
    }
    identities.update(linked or {})
    return Fingerprint(
        request_digest(request, identities), _flatten(_declared(request, identities)), identities
    )
