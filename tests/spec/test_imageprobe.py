"""Header-only image probing, up to the largest image wanform meets."""

from __future__ import annotations

import struct
import zlib

from wanform.spec.imageprobe import probe_bytes


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_a_png_too_large_for_pillow_is_probed_from_its_header() -> None:
    """20000x20000 is past Pillow's decompression-bomb guard; the header still gives its size."""
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 6, 0, 0, 0)
    info = probe_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")
    )
    assert (info.format, info.width, info.height, info.has_alpha) == ("PNG", 20000, 20000, True)
