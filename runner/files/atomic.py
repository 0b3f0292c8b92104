"""Atomic writes: a file appears under its final name only complete.

It is written to a temporary file in the same directory, fsynced and renamed over the name
(`os.replace`), so no reader ever sees half a PNG, lock or report.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once, at import, while nothing else runs
FILE_MODE = 0o666 & ~_UMASK
# AtomicFile's temporary names: mkstemp puts 8 characters of this set between prefix and suffix
TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.part")


def fsync_dir(directory: Path) -> None:
    """Make the names in `directory` durable (a rename into it, say)."""
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

    def commit(self, durable_name: bool = True) -> None:
        """Make the file `path`, its bytes durable; its name too, unless `durable_name` is false:
        then the caller fsyncs the folder (`fsync_dir`) before it relies on the name, once for
        all the files it commits there."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.temp, self.path)
        if durable_name:
            fsync_dir(self.path.parent)

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


def read_object(path: Path) -> dict | None:
    """The JSON object a file written whole holds; None when there is none, or it is not JSON or
    not an object (a damaged cache or record reads as missing)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
