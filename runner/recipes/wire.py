"""What each recipe image becomes on the wire, and the digests that identify a job across runs.

A local file goes as a base64 data URI, unless the URI would pass DashScope's per-item limit or the
field accepts only URLs (wanx2.1's mask): then it goes through the temporary-upload flow as `oss://`.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath

from wanform.runner.recipes.build import BuiltRequest, ImageRef, build_request
from wanform.runner.recipes.digest import canonical, request_digest
from wanform.runner.recipes.load import Job
from wanform.spec import datauri
from wanform.spec.imageprobe import probe_bytes
from wanform.spec.models import DATA_URI_MAX_BYTES, URL_ONLY_FIELDS
from wanform.spec.problems import Path

FORMAT_MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "BMP": "image/bmp",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
}


@dataclass(frozen=True)
class Source:
    """One image's bytes (None for a URL the service fetches) and what identifies it."""

    ref: ImageRef
    data: bytes | None
    mime: str
    name: str  # a file name for uploads

    @property
    def digest(self) -> str:
        if self.data is None:
            return self.ref.value
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def describe(self) -> dict:
        """For provenance: where it came from and its digest, never the bytes."""
        out: dict[str, str | int] = {
            "from": f"{self.ref.kind}:{self.ref.value}" if self.ref.kind != "data" else "data",
            "role": self.ref.role,
        }
        if self.data is not None:
            out.update(
                sha256=self.digest.removeprefix("sha256:"), bytes=len(self.data), mime=self.mime
            )
        return out


def _local_file(job: Job, value: str) -> FsPath:
    return (job.recipe.abspath.parent / value).resolve()


def load_source(job: Job, ref: ImageRef, linked: Mapping[Path, FsPath] | None = None) -> Source:
    """Read a `path:` or `data:` image (already validated), or the upstream output file a `from:`
    has in `linked`; URLs (and a `from:` with no file yet) stay as they are."""
    if ref.kind == "from" and linked and ref.body_path in linked:
        data = linked[ref.body_path].read_bytes()
        return Source(ref, data, _mime(data), linked[ref.body_path].name)
    if ref.kind in ("url", "from"):
        return Source(ref, None, "", "")
    if ref.kind == "data":
        mime, data = datauri.decode(ref.value)
        return Source(
            ref,
            data,
            mime or _mime(data),
            f"{ref.role}{mimetypes.guess_extension(mime or '') or ''}",
        )
    path = _local_file(job, ref.value)
    data = path.read_bytes()
    return Source(ref, data, _mime(data), path.name)


def _mime(data: bytes) -> str:
    return FORMAT_MIME.get(probe_bytes(data).format, "application/octet-stream")


def load_sources(
    request: BuiltRequest, linked: Mapping[Path, FsPath] | None = None
) -> list[Source]:
    return [load_source(request.job, ref, linked) for ref in request.images]


def data_uri(source: Source) -> str:
    return f"data:{source.mime};base64," + base64.b64encode(source.data or b"").decode("ascii")


def needs_upload(source: Source) -> bool:
    """Whether the image must go through the temporary-upload flow rather than inline."""
    if source.data is None:
        return False
    if source.ref.body_path[-1] in URL_ONLY_FIELDS:
        return True
    return (
        4 * ((len(source.data) + 2) // 3) + len(f"data:{source.mime};base64,") > DATA_URI_MAX_BYTES
    )


Uploader = Callable[[Source], Awaitable[str]]


async def encode_all(sources: list[Source], upload: Uploader) -> dict[tuple, str]:
    """Each image's wire value, keyed by its place in the body."""
    out = {}
    for source in sources:
        if source.data is None:
            out[source.ref.body_path] = source.ref.value
        elif needs_upload(source):
            out[source.ref.body_path] = await upload(source)
        else:
            out[source.ref.body_path] = data_uri(source)
    return out


def wire_request(job: Job, values: dict[tuple, str], synchronous: bool) -> BuiltRequest:
    """The request exactly as it is sent."""
    return build_request(job, lambda ref: values[ref.body_path], synchronous=synchronous)


def journal_key(request: BuiltRequest, sources: list[Source], target: str) -> str:
    """A job's identity across runs: where it goes, its recipe and name, and its request's digest
    (as in the lock)."""
    job = request.job
    recipe = job.recipe.relative
    digest = request_digest(request, {s.ref.body_path: s.digest for s in sources})
    ident = {"target": target, "recipe": recipe, "job": job.name, "request": digest}
    return hashlib.sha256(canonical(ident).encode("utf-8")).hexdigest()
