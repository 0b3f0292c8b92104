"""The small images the contract suite sends, made on the spot with Pillow, as data URIs.

Flat colours compress to a few hundred bytes, so the suite uploads little; the one large image
(over the data-URI cap) is a small PNG padded with a private ancillary chunk, which a decoder
skips.
"""

from __future__ import annotations

import base64
import functools
import io

from PIL import Image

from wanform.spec.formats import png
from wanform.spec.models import DATA_URI_MAX_BYTES


@functools.cache
def encoded(width: int, height: int, fmt: str = "PNG", mode: str = "RGB") -> bytes:
    """A flat-coloured image of this size, format and mode."""
    fill = (200, 120, 40, 128)[: len(mode)] if mode != "L" else 128
    out = io.BytesIO()
    Image.new(mode, (width, height), fill).save(out, format=fmt)
    return out.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image(width: int = 256, height: int = 256, fmt: str = "PNG", mode: str = "RGB") -> str:
    """A data URI of a flat image, labelled with its own MIME type."""
    return data_uri(encoded(width, height, fmt, mode), f"image/{fmt.lower()}")


@functools.cache
def oversized(width: int = 512, height: int = 512) -> str:
    """A valid PNG data URI whose bytes exceed DashScope's per-data-URI cap by about 1 MB."""
    flat = encoded(width, height)
    pad = b"\0" * (DATA_URI_MAX_BYTES + 1024 * 1024)
    end = flat.rindex(b"IEND") - 4  # insert before the IEND chunk (its length field included)
    return data_uri(flat[:end] + png.chunk(b"waNf", pad) + flat[end:])
