"""Input images on disk, so a task keeps a handle to its input rather than the bytes.

A task's last input image is drawn under its results on first download, up to 24 h later; held
in memory that is ~60 KB per task for a small JPEG, far over the few KB a task may cost. Files
are named by the sha256 of their bytes, so identical inputs are stored once, and counted by the
tasks that hold them: the last task to be forgotten deletes the file. The directory is a
temporary one that lives as long as the application (`open` at startup, `close` at cleanup).

Counts change on the event loop only; worker threads just read files, and a file gone by then
reads as None (the task is drawn without its input).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

DIRECTORY_PREFIX = "wanform-emulator-inputs-"


@dataclass(frozen=True, slots=True)
class StoredInput:
    """A handle to one stored input: its digest and the store that has its bytes."""

    digest: str
    store: InputStore

    def read(self) -> bytes | None:
        """The input's bytes; None when its file is gone."""
        return self.store.read(self.digest)


class InputStore:
    """Content-addressed input files in a temporary directory, counted by the tasks holding them."""

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._held: dict[str, tuple[StoredInput, int]] = {}  # digest -> its handle, holders

    @property
    def directory(self) -> Path | None:
        """Where the files are; None before `open` and after `close`."""
        return self._directory

    def open(self) -> None:
        """Create the directory (at application startup)."""
        self._directory = Path(tempfile.mkdtemp(prefix=DIRECTORY_PREFIX))

    def close(self) -> None:
        """Delete the directory and everything in it (at application cleanup)."""
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
        self._directory = None
        self._held.clear()

    def put(self, data: bytes) -> StoredInput:
        """Store `data` for one more holder; identical bytes share one file and one handle."""
        digest = hashlib.sha256(data).hexdigest()
        handle, holders = self._held.get(digest) or (None, 0)
        if handle is None:
            handle = StoredInput(digest, self)
            self._write(digest, data)
        self._held[digest] = (handle, holders + 1)
        return handle

    def release(self, handle: StoredInput | None) -> None:
        """One holder less; the file goes with the last one."""
        if handle is None or handle.digest not in self._held:
            return
        _, holders = self._held[handle.digest]
        if holders > 1:
            self._held[handle.digest] = (handle, holders - 1)
            return
        del self._held[handle.digest]
        if self._directory is not None:
            # on Windows a render reading the file keeps it there until `close`
            with contextlib.suppress(OSError):
                (self._directory / handle.digest).unlink()

    def read(self, digest: str) -> bytes | None:
        """The bytes stored under `digest`; None when the file is gone (or the store closed)."""
        if self._directory is None:
            return None
        try:
            return (self._directory / digest).read_bytes()
        except FileNotFoundError:
            return None

    def _write(self, digest: str, data: bytes) -> None:
        if self._directory is None:
            raise RuntimeError("the input store is not open: start the application first")
        # written whole, then renamed: a reader never sees half a file
        fd, temporary = tempfile.mkstemp(dir=self._directory, prefix=".")
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, self._directory / digest)
