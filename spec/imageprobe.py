"""Read an image's format and dimensions from its header, never decoding the pixels."""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

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


class ImageProbeError(ValueError):
    """The bytes are not an image Pillow can identify."""


def probe_stream(stream: BinaryIO, nbytes: int) -> ImageInfo:
    """Identify the image in `stream`; Pillow reads only as far as the header."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as img:
                alpha = "A" in img.getbands() or "transparency" in img.info
                return ImageInfo(img.format or "", img.width, img.height, nbytes, alpha)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
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
