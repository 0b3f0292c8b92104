"""A job's sidecar, OUT/<recipe>/<job>.json: the provenance of its images (what was sent, to which
target, what came back and when), its shape, written and read here.

The run writes one per finished job; `wanform report` reads it back for the job's card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict, TypeGuard

from wanform.runner.api.errors import safe_url
from wanform.runner.engine.journal import FailureRecord
from wanform.runner.engine.outputs import write_atomic
from wanform.runner.engine.states import ImageOut
from wanform.runner.reports import versions


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


def image_record(image: ImageOut, url: str) -> ImageRecord:
    """An image as its sidecar records it: by file name, and the URL without its signature."""
    return {
        "index": image.index,
        "file": Path(image.file).name,
        "sha256": image.sha256,
        "bytes": image.bytes,
        "url": safe_url(url),
    }


def write_sidecar(path: Path, provenance: Provenance) -> None:
    doc: Sidecar = {"version": versions.SIDECAR, **provenance}
    write_atomic(
        path, (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    )


def read_sidecar(path: Path) -> Sidecar | None:
    """The sidecar at `path`; None when there is none, or it is damaged or of another version."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
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
