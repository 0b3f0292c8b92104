"""Read an image's format and dimensions from its header, never decoding the pixels."""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from wanform.spec.formats import png

MIME_FORMATS = {
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/png": "PNG",
    "image/bmp": "BMP",
    "image/webp": "WEBP",
    "image/tiff": "TIFF",
}


@dataclass(frozen=True)
class ImageInfo:
    """What the header says: Pillow's format name, size in pixels, and the file's bytes."""

    format: str
    width: int
    height: int
    nbytes: int
    has_alpha: bool = False


PNG_ALPHA_COLOUR_TYPES = (4, 6)  # grey + alpha, RGBA


class ImageProbeError(ValueError):
    """The bytes are not an image Pillow can identify."""


def _png_header(stream: BinaryIO, nbytes: int) -> ImageInfo | None:
    """A PNG's size and transparency from its chunks before the pixel data, never decoding it:
    for PNGs larger than Pillow agrees to open (wanx2.1's x4 outputs reach 16384x16384)."""
    if stream.read(8) != png.SIGNATURE:
        return None
    found = png.chunks(stream)
    if next(found, None) != (b"IHDR", 13) or len(ihdr := stream.read(13)) < 13:
        return None
    width, height, _depth, colour = struct.unpack(">IIBB", ihdr[:10])
    alpha = colour in PNG_ALPHA_COLOUR_TYPES
    for kind, _ in found:
        if alpha or kind in (b"IDAT", b"IEND"):
            break
        alpha = kind == b"tRNS"
    return ImageInfo("PNG", width, height, nbytes, alpha)


def probe_stream(stream: BinaryIO, nbytes: int) -> ImageInfo:
    """Identify the image in `stream`; Pillow reads only as far as the header."""
    start = stream.tell()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as img:
                alpha = "A" in img.getbands() or "transparency" in img.info
                return ImageInfo(img.format or "", img.width, img.height, nbytes, alpha)
    except Image.DecompressionBombError as exc:
        stream.seek(start)  # too many pixels for Pillow to open, though nothing is decoded here
        info = _png_header(stream, nbytes)
        if info is None:
            raise ImageProbeError(f"Pillow cannot identify it ({exc.__class__.__name__})") from exc
        return info
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise ImageProbeError(f"Pillow cannot identify it ({exc.__class__.__name__})") from exc


def probe_file(path: str | os.PathLike) -> ImageInfo:
    """Probe a file on disk: its size from stat, its header from the first blocks."""
    size = os.stat(path).st_size
    with open(path, "rb") as fh:
        return probe_stream(fh, size)


def probe_bytes(data: bytes) -> ImageInfo:
    """Probe an image held in memory."""
    return probe_stream(io.BytesIO(data), len(data))
