"""Result files on disk: deterministic names, atomic writes, and provenance in PNG text chunks and a
sidecar.

A file appears under its final name only complete: it is written to a temporary file in the same
directory, fsynced and renamed over the name (`os.replace`), so no reader ever sees half a PNG.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import struct
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wanform.runner.api.errors import FileError, WanformError, safe_url
from wanform.spec import datauri

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
SIGNED_QUERY = re.compile(r"(?i)(signature|expires|accesskeyid|security-token|x-oss-|token)=")
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM = (
    120  # file systems allow 255 bytes; leave room for the index, suffix and temp-file decoration
)
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once, at import, while nothing else runs
FILE_MODE = 0o666 & ~_UMASK
SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key"})
# AtomicFile's temporary names: mkstemp puts 8 characters of this set between prefix and suffix
TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.part")


def safe_name(name: str) -> str:
    """A file name from a recipe or job name: `fox[size=1K,seed=1]` -> `fox-size-1K-seed-1`; long
    ones end in a hash."""
    plain = UNSAFE.sub("-", name).strip("-.") or "job"
    if len(plain) <= MAX_STEM:
        return plain
    return (
        plain[: MAX_STEM - 9].rstrip("-.")
        + "-"
        + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    )


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


class OutsideError(WanformError):
    """A path read from the lock, the journal or a sidecar, or a folder a run writes in, leads out
    of the project and the output folder."""

    code = "PathOutside"
    hint = "wanform reads and deletes files only there; fix or remove that entry"


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


def within(path: str | os.PathLike, areas: Iterable[Path]) -> bool:
    """Whether `path`, with `..` and symlinks resolved, lies inside one of `areas` (a symlink loop
    lies nowhere)."""
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError):  # a loop: RuntimeError before Python 3.13, OSError since
        return False
    return any(real.is_relative_to(area.resolve()) for area in areas)


def link_out(folder: Path, area: Path) -> Path | None:
    """The first step on the way down from `area` to `folder` (written inside it, without `..`)
    that a symlink leads out of `area`; None when every step stays in."""
    step = area
    for part in folder.relative_to(area).parts:
        step = step / part
        if not within(step, (area,)):
            return step
    return None


def check_links(folders: Iterable[Path], area: Path, name: str) -> None:
    """OutsideError naming the first symlink that leads one of `folders` out of `area` (`name`
    says what `area` is: the project, the output folder)."""
    area = Path(os.path.abspath(area))
    for folder in folders:
        link = link_out(Path(os.path.abspath(folder)), area)
        if link is not None:
            shown = link.relative_to(area).as_posix()
            raise OutsideError(
                f"{shown} is a symbolic link out of {name} (-> {os.readlink(link)}); wanform "
                f"writes and deletes only inside {name}: make {shown} a folder, or link it inside"
            )


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        # platforms that cannot open a directory (Windows) make the rename durable themselves
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicFile:
    """A temporary file beside `path` that becomes `path` on `commit`, or vanishes on `discard`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.chmod(name, FILE_MODE)  # mkstemp makes 0600; results are ordinary files
        self.temp = Path(name)
        self.file = os.fdopen(fd, "w+b")

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.temp, self.path)
        _fsync_dir(self.path.parent)

    def discard(self) -> None:
        """Remove the temporary. Closing it may fail again (its buffered bytes cannot be written
        to a full disk): that second error is dropped, the first one is what the caller reports."""
        try:
            with contextlib.suppress(OSError):
                self.file.close()
        finally:
            with contextlib.suppress(OSError):
                self.temp.unlink(missing_ok=True)


def remove_stale_temps(folders: Iterable[Path], files: Iterable[Path] = ()) -> list[Path]:
    """Delete AtomicFile temporaries a killed run left: any in `folders`, those of `files` beside
    them. Call it only under the run guard, which no other wanform run then writes under."""
    wanted = [(folder, None) for folder in folders] + [(f.parent, f.name) for f in files]
    removed = []
    for folder, name in wanted:
        for path in sorted(folder.glob(".*.part")):
            match = TEMP_NAME.fullmatch(path.name)
            if match and name in (None, match["name"]) and path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def write_atomic(path: Path, data: bytes) -> None:
    out = AtomicFile(path)
    try:
        out.write(data)
        out.commit()
    except BaseException:
        out.discard()
        raise


def text_chunk(keyword: str, text: str) -> bytes:
    """A PNG iTXt chunk (UTF-8, uncompressed)."""
    payload = keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    return (
        struct.pack(">I", len(payload))
        + b"iTXt"
        + payload
        + struct.pack(">I", zlib.crc32(b"iTXt" + payload))
    )


def finish_png(out: AtomicFile, texts: dict[str, str]) -> str:
    """Check the downloaded file is a whole PNG,
    put `texts` before its IEND, and return the final sha256."""
    f = out.file
    size = f.seek(0, os.SEEK_END)
    f.seek(0)
    head = f.read(8)
    f.seek(max(0, size - len(PNG_IEND)))
    if head != PNG_SIGNATURE or size < 8 + len(PNG_IEND) or f.read() != PNG_IEND:
        raise FileError(f"{out.path.name}: the download is not a complete PNG ({size} bytes)")
    f.seek(size - len(PNG_IEND))
    f.truncate()
    for key, value in texts.items():
        f.write(text_chunk(key, value))
    f.write(PNG_IEND)
    return file_sha256(f)


def file_sha256(f: Any) -> str:
    f.seek(0)
    digest = hashlib.sha256()
    while chunk := f.read(1 << 16):  # a thread per download hashes: small reads, small buffers
        digest.update(chunk)
    return digest.hexdigest()


def image_suffix(head: bytes) -> str:
    """The extension a result's first bytes call for
    (DashScope returns PNG; other formats keep theirs)."""
    if head.startswith(PNG_SIGNATURE):
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
