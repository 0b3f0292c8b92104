"""A job's result files: deterministic names, PNGs checked whole with provenance in text chunks,
and a sidecar of provenance; written through `files.atomic`, so none appears half-written."""

from __future__ import annotations

import errno
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, TypeGuard

from wanform.runner import versions
from wanform.runner.api.answers import FailureRecord
from wanform.runner.api.errors import FileError, WanformError, safe_url
from wanform.runner.files.atomic import read_object, write_atomic
from wanform.runner.files.names import safe_name
from wanform.spec import datauri
from wanform.spec.formats import png

SIGNED_QUERY = re.compile(r"(?i)(signature|expires|accesskeyid|security-token|x-oss-|token)=")
SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key"})


class Stems:
    """A file stem per (recipe, job) name; jobs of one recipe whose names sanitise alike get a
    short hash each. Only the clashing names are kept: a run of 20,000 jobs holds no stem each."""

    def __init__(self, names: Iterable[tuple[str, str]]) -> None:
        counts = Counter((safe_name(recipe), safe_name(job)) for recipe, job in set(names))
        self._clashes = {pair for pair, count in counts.items() if count > 1}

    def __getitem__(self, name: tuple[str, str]) -> str:
        recipe, job = name
        stem = safe_name(job)
        if (safe_name(recipe), stem) in self._clashes:
            return stem + "-" + hashlib.sha256(job.encode("utf-8")).hexdigest()[:8]
        return stem


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one job's files go:
    `<out>/<recipe>/<stem>-<i>.png` and `<out>/<recipe>/<stem>.json`."""

    directory: Path
    stem: str

    def image(self, index: int, suffix: str = ".png") -> Path:
        return self.directory / f"{self.stem}-{index}{suffix}"

    @property
    def sidecar(self) -> Path:
        return self.directory / f"{self.stem}.json"


class OutputWriteError(WanformError):
    """A result file the run could not write (a full disk, a read-only folder): its task SUCCEEDED
    and is billed, but the file is not on disk."""

    code = "OutputNotWritten"
    hint = (
        "the task SUCCEEDED and its images are billed; make room (or fix the folder) and rerun: "
        "it fetches them from the same task without paying again"
    )


def write_error(path: Path, exc: OSError) -> OutputWriteError:
    """The OS error of writing `path`, named: `cannot write P: No space left on device (ENOSPC)`."""
    name = errno.errorcode.get(exc.errno or 0)
    return OutputWriteError(
        f"cannot write {path}: {exc.strerror or exc}" + (f" ({name})" if name else "")
    )


class DiskError(WanformError):
    """An OS error where no step of a job expected one (a full disk under a file it needed): the
    run stops, since the next job would meet it too."""

    code = "DiskError"
    hint = (
        "make room (or fix the folder) and rerun: tasks already made are polled, never paid twice"
    )


def disk_error(exc: OSError) -> DiskError:
    """`exc` as a DiskError: `P: No space left on device (ENOSPC)`."""
    name = errno.errorcode.get(exc.errno or 0)
    where = f"{exc.filename}: " if exc.filename else ""
    return DiskError(f"{where}{exc.strerror or exc}" + (f" ({name})" if name else ""))


def png_ending(name: str, size: int, last: bytes, texts: dict[str, str]) -> bytes:
    """What replaces the `last` bytes of a downloaded PNG of `size` bytes: `texts` as text chunks,
    then IEND. FileError unless `last` is its IEND, which makes the PNG whole."""
    if size < len(png.SIGNATURE) + len(png.IEND) or last != png.IEND:
        raise FileError(f"{name}: the download is not a complete PNG ({size} bytes)")
    return b"".join(png.text_chunk(key, value) for key, value in texts.items()) + png.IEND


def image_suffix(head: bytes) -> str:
    """The extension a result's first bytes call for
    (DashScope returns PNG; other formats keep theirs)."""
    if head.startswith(png.SIGNATURE):
        return ".png"
    if head.startswith(b"\xff\xd8"):
        return ".jpg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    return ".bin"


def redact_value(value: str) -> str:
    """A body string as provenance keeps it:
    data URIs as digest and size, signed URLs without their query."""
    uri = datauri.parse(value)
    if uri is not None:
        data = uri.lenient_bytes()
        return f"data:{uri.mime};sha256={hashlib.sha256(data).hexdigest()};bytes={len(data)}"
    if "://" in value and SIGNED_QUERY.search(value.partition("?")[2]):
        return safe_url(value)
    return value


def redact(data: Any) -> Any:
    """A request body or answer with every string passed through `redact_value`."""
    if isinstance(data, dict):
        return {k: redact(v) for k, v in data.items()}
    if isinstance(data, list):
        return [redact(v) for v in data]
    return redact_value(data) if isinstance(data, str) else data


def safe_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}


class SentRequest(TypedDict):
    """The request as sent, without secrets: no API key, data URIs as digest and size."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, object]


class ImageRecord(TypedDict):
    """One image written: its file name beside the sidecar, and the URL without its signature."""

    index: int
    file: str
    sha256: str
    bytes: int
    url: str


class JobProvenance(TypedDict):
    """Who asked for the images: the recipe's job, its model and target, and what it sent."""

    recipe: str
    job: str
    model: str
    target: str
    task_id: str | None
    resumed: bool
    request: SentRequest | None
    inputs: list[dict[str, str | int]]  # each input's origin, role and digest, never its bytes


class Provenance(JobProvenance):
    """What the run records of a finished job."""

    request_id: str
    status: str  # SUCCEEDED, or PARTIAL when some images failed
    usage: dict[str, object] | None
    task_metrics: dict[str, object] | None
    service_times: dict[str, str]
    timings: dict[str, str]
    texts: list[str]
    images: list[ImageRecord]
    failed_images: list[FailureRecord]


class Sidecar(Provenance):
    """The file: the provenance and the format version."""

    version: int


def write_sidecar(path: Path, provenance: Provenance) -> None:
    doc: Sidecar = {"version": versions.SIDECAR, **provenance}
    write_atomic(
        path, (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    )


def read_sidecar(path: Path) -> Sidecar | None:
    """The sidecar at `path`; None when there is none, or it is damaged or of another version."""
    doc = read_object(path)
    return doc if _is_sidecar(doc) else None


def _is_sidecar(doc: object) -> TypeGuard[Sidecar]:
    """Whether `doc` is a sidecar of this version with the fields the report reads as written."""
    if not isinstance(doc, dict) or doc.get("version") != versions.SIDECAR:
        return False
    request = doc.get("request")
    return (
        (request is None or isinstance(request, dict) and isinstance(request.get("body"), dict))
        and isinstance(doc.get("timings"), dict)
        and isinstance(doc.get("service_times"), dict)
    )
