"""Thumbnails for the report: made once, cached beside it by what the image is, never decoded whole.

Small images go through Pillow's `draft` and `thumbnail` (which reduces while decoding where the
format allows). A large non-interlaced 8-bit PNG, as the models write up to 16384x16384, is read
a strip of rows at a time: zlib inflates its scanlines as they come, each strip (with the row
before it, which its filters refer to) is wrapped as a small PNG for Pillow to unfilter, then
reduced and pasted into the thumbnail. Memory stays a few strips, whatever the image's size.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from wanform.spec.formats import png
from wanform.spec.imageprobe import ImageProbeError, probe_file

EDGE = 320  # the longest side of a thumbnail, in pixels
STRIPPED = 4096 * 4096  # PNGs of more pixels than this are read in strips
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
_BOMB_LOCK = threading.Lock()


@dataclass(frozen=True)
class Thumb:
    """A cached thumbnail: its file name in the cache, its size, and the image's own size."""

    name: str
    width: int
    height: int
    source_width: int
    source_height: int


class ThumbError(Exception):
    """The image cannot be read (missing, damaged, or a format the report does not thumbnail)."""


def cache_key(path: Path) -> str:
    """What names a thumbnail: the file's absolute path, size and mtime, and the thumbnail edge."""
    st = path.stat()
    ident = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{EDGE}"
    return hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def thumbnail(path: Path, cache: Path, own: bool = False, key: str | None = None) -> Thumb:
    """The thumbnail of `path` in `cache`, made if missing; `own` lifts Pillow's pixel limit (for
    wanform's outputs, which may reach 16384x16384); `key` names it (default: `cache_key`).
    ThumbError if it cannot be made."""
    try:
        with _limit_lifted(own):
            info = probe_file(path)
        key = key or cache_key(path)
    except (OSError, ImageProbeError) as exc:
        raise ThumbError(f"{path}: {exc}") from None
    for suffix in (".jpg", ".png"):
        cached = cache / f"{key}{suffix}"
        if cached.is_file():
            return _known(cached, info.width, info.height)
    try:
        image = _reduced(path, info.format, info.width * info.height, own)
    except (OSError, ValueError, SyntaxError, zlib.error, Image.DecompressionBombError) as exc:
        raise ThumbError(f"{path}: cannot read the image: {exc}") from None
    return _store(image, cache, key, info.width, info.height)


def cached(cache: Path, key: str, width: int, height: int) -> Thumb | None:
    """The thumbnail named `key` in `cache`, of an image `width` x `height`; None if not made."""
    for suffix in (".jpg", ".png"):
        found = cache / f"{key}{suffix}"
        if found.is_file():
            return _known(found, width, height)
    return None


def _known(cached: Path, width: int, height: int) -> Thumb:
    with Image.open(cached) as im:
        return Thumb(cached.name, im.width, im.height, width, height)


def _store(image: Image.Image, cache: Path, key: str, width: int, height: int) -> Thumb:
    cache.mkdir(parents=True, exist_ok=True)
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if alpha else "RGB")
    name = f"{key}{'.png' if alpha else '.jpg'}"
    data = io.BytesIO()
    image.save(data, "PNG" if alpha else "JPEG", quality=82)
    part = cache / f".{name}.{os.getpid()}.part"
    part.write_bytes(data.getvalue())
    os.replace(part, cache / name)
    return Thumb(name, image.width, image.height, width, height)


def _reduced(path: Path, fmt: str, pixels: int, own: bool) -> Image.Image:
    if fmt == "PNG" and pixels > STRIPPED:
        stripped = _png_strips(path)
        if stripped is not None:
            return stripped
    with _opened(path, own) as im:
        im.draft("RGB", (EDGE, EDGE))  # JPEG decodes at 1/2, 1/4 or 1/8 scale
        im.thumbnail((EDGE, EDGE), reducing_gap=2.0)
        im.load()
        return im.copy()


@contextlib.contextmanager
def _limit_lifted(own: bool) -> Iterator[None]:
    """Pillow's decompression-bomb limit lifted for wanform's own outputs, kept for the rest.

    The limit is Pillow's global: every open takes the lock, so that an input opened on another
    thread never sees it lifted.
    """
    with _BOMB_LOCK:
        limit = Image.MAX_IMAGE_PIXELS
        if own:
            Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def _opened(path: Path, own: bool) -> Image.Image:
    with _limit_lifted(own):
        return Image.open(path)


def _png_strips(path: Path) -> Image.Image | None:
    """The PNG reduced strip by strip, or None when it is not a kind this reads (interlaced, not
    8-bit): those go to Pillow whole."""
    with open(path, "rb") as fh:
        fh.seek(len(png.SIGNATURE))
        chunks = png.chunks(fh)
        kind, length = next(chunks)
        ihdr = fh.read(length)
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
        if kind != b"IHDR" or depth != 8 or interlace or colour not in CHANNELS:
            return None
        strips = _Strips(ihdr, width, height, width * CHANNELS[colour] + 1)
        for kind, length in chunks:
            if kind in (b"PLTE", b"tRNS"):
                strips.extra += png.chunk(kind, fh.read(length))
            elif kind == b"IDAT":
                strips.feed(fh.read(length))
        return strips.finish()


class _Strips:
    """Inflates scanlines at most a strip at a time and reduces each strip into the thumbnail."""

    def __init__(self, ihdr: bytes, width: int, height: int, row: int) -> None:
        self.ihdr, self.width, self.height, self.row = ihdr, width, height, row
        self.factor = math.ceil(max(width, height) / EDGE)
        self.rows = self.factor * max(1, 256 // self.factor)
        self.extra = b""
        self.pending = b""
        self.previous = b""
        self.y = 0
        self.inflate = zlib.decompressobj()
        self.out: Image.Image | None = None

    def feed(self, data: bytes) -> None:
        while data:
            self.pending += self.inflate.decompress(data, self.row * self.rows)
            data = self.inflate.unconsumed_tail
            self._drain()

    def _drain(self) -> None:
        while len(self.pending) >= self.row * self.rows or (
            self.pending and self.y + len(self.pending) // self.row == self.height
        ):
            count = min(self.rows, len(self.pending) // self.row)
            part = self.pending[: count * self.row]
            self.pending = self.pending[count * self.row :]
            piece, self.previous = _unfilter(
                self.ihdr, self.extra, self.previous, part, self.width, count
            )
            small = piece.reduce(self.factor)
            if self.out is None:
                size = (math.ceil(self.width / self.factor), math.ceil(self.height / self.factor))
                self.out = Image.new(small.mode, size)
            self.out.paste(small, (0, self.y // self.factor))
            self.y += count

    def finish(self) -> Image.Image:
        if self.out is None or self.y != self.height:
            raise ValueError(f"the image data ends after {self.y} of {self.height} rows")
        self.out.thumbnail((EDGE, EDGE))
        return self.out


def _unfilter(
    ihdr: bytes, extra: bytes, previous: bytes, rows: bytes, width: int, count: int
) -> tuple[Image.Image, bytes]:
    """Scanlines unfiltered by Pillow: the row before them goes first, unfiltered (filter 0), so
    that filters that refer to it read the right bytes. Returns the strip and its last raw row."""
    lead = b"\0" + previous if previous else b""
    header = struct.pack(">II", width, count + (1 if previous else 0)) + ihdr[8:]
    data = png.image(header, zlib.compress(lead + rows, 1), extra)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        strip = im.crop((0, 1, width, im.height)) if previous else im.copy()
    raw = strip.tobytes()
    last = raw[-(len(raw) // count) :]
    if strip.mode == "P":
        strip = strip.convert("RGBA" if b"tRNS" in extra else "RGB")
    return strip, last
