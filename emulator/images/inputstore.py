"""Input images on disk, so a task keeps a handle to each input rather than the bytes; at most
`max_bytes` of them.

A task's input images are drawn in its results on first download, up to 24 h later; held
in memory that is ~60 KB per task for a small JPEG, far over the few KB a task may cost. Files
are named by the sha256 of their bytes, so identical inputs are stored once, and counted by the
tasks that hold them: the last task to be forgotten deletes the file. The directory is a
temporary one that lives as long as the application (`open` at startup, `close` at cleanup).

Past `max_bytes` the store evicts the least recently used file that no holder needs any more
(each has `settle`d: drawn all its images, or will draw none), else the least recently used one
still needed: in practice that of a task long ended whose results nobody downloaded. A result is
never drawn without its input: reading an evicted one raises `InputGone`, until the same bytes
are sent again and the file comes back under the same name.

Counts change on the event loop only; worker threads just read files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from wanform.emulator.errors import invalid_parameter

DIRECTORY_PREFIX = "wanform-emulator-inputs-"


class InputGone(Exception):
    """An input's file is gone: evicted over the store's cap, or the store is closed."""


@dataclass(frozen=True, slots=True)
class StoredInput:
    """A handle to one stored input: its digest and the store that has its bytes."""

    digest: str
    store: InputStore

    def read(self) -> bytes:
        """The input's bytes; InputGone when its file is gone."""
        return self.store.read(self.digest)


@dataclass(slots=True)
class _Entry:
    handle: StoredInput
    size: int
    holders: int = 0
    needs: int = 0  # holders that have not settled
    stored: bool = False  # its file is on disk (False: evicted)


class InputStore:
    """Content-addressed input files in a temporary directory, counted by the tasks holding them
    and kept under `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0  # bytes of the files on disk
        self._directory: Path | None = None
        self._entries: dict[str, _Entry] = {}
        # the stored files in least recently used order: settled, and still needed
        self._settled: OrderedDict[str, None] = OrderedDict()
        self._needed: OrderedDict[str, None] = OrderedDict()

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
        self._entries.clear()
        self._settled.clear()
        self._needed.clear()
        self.size = 0

    def put(self, data: bytes) -> StoredInput:
        """Store `data` for one more holder, which needs it until it settles; identical bytes
        share one file and one handle. 400 InvalidParameter if `data` alone passes the cap."""
        if len(data) > self.max_bytes:
            raise invalid_parameter(
                f"The input image ({len(data)} bytes) is larger than the emulator's whole input "
                f"store ({self.max_bytes} bytes: wanform emulator --input-store-mb)."
            )
        digest = hashlib.sha256(data).hexdigest()
        entry = self._entries.get(digest)
        if entry is None:
            entry = _Entry(StoredInput(digest, self), len(data))
            self._entries[digest] = entry
        if not entry.stored:
            self._write(digest, data)
            entry.stored = True
            self.size += entry.size
        entry.holders += 1
        entry.needs += 1
        self._settled.pop(digest, None)
        self._needed[digest] = None
        self._needed.move_to_end(digest)
        self._shrink()
        return entry.handle

    def settle(self, handle: StoredInput | None) -> None:
        """One holder needs the bytes no more: once none does, the file is evicted first."""
        entry = self._entry(handle)
        if entry is None or entry.needs == 0:
            return
        entry.needs -= 1
        if entry.needs == 0 and entry.stored:
            del self._needed[entry.handle.digest]
            self._settled[entry.handle.digest] = None

    def release(self, handle: StoredInput | None) -> None:
        """One holder less; the file goes with the last one."""
        entry = self._entry(handle)
        if entry is None:
            return
        entry.holders -= 1
        if entry.holders > 0:
            return
        if entry.stored:
            self._evict(entry)
        del self._entries[entry.handle.digest]

    def read(self, digest: str) -> bytes:
        """The bytes stored under `digest`; InputGone when its file is gone or the store closed."""
        if self._directory is None:
            raise InputGone(digest)
        try:
            return (self._directory / digest).read_bytes()
        except FileNotFoundError:
            raise InputGone(digest) from None

    def _entry(self, handle: StoredInput | None) -> _Entry | None:
        return None if handle is None else self._entries.get(handle.digest)

    def _shrink(self) -> None:
        """Evict files, settled ones first, least recently used first, until under the cap (the
        file just put is the most recently used: it stays, as it fits alone)."""
        while self.size > self.max_bytes:
            oldest = next(iter(self._settled or self._needed))
            self._evict(self._entries[oldest])

    def _evict(self, entry: _Entry) -> None:
        digest = entry.handle.digest
        self._settled.pop(digest, None)
        self._needed.pop(digest, None)
        entry.stored = False
        self.size -= entry.size
        if self._directory is not None:
            # on Windows a render reading the file keeps it there until `close`
            with contextlib.suppress(OSError):
                (self._directory / digest).unlink()

    def _write(self, digest: str, data: bytes) -> None:
        if self._directory is None:
            raise RuntimeError("the input store is not open: start the application first")
        # written whole, then renamed: a reader never sees half a file
        fd, temporary = tempfile.mkstemp(dir=self._directory, prefix=".")
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, self._directory / digest)
