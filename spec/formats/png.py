"""PNG's container in one place: the signature, and chunks read and written; never the pixels.

A PNG is the signature, then chunks: a 4-byte big-endian length, a 4-byte type, the data and a
CRC-32 of type and data. IHDR comes first and IEND last.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    """One chunk of type `kind` (b"IDAT") holding `data`, its CRC computed."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


IEND = chunk(b"IEND", b"")  # the last chunk of every PNG, whole


def text_chunk(keyword: str, text: str) -> bytes:
    """An iTXt chunk: `text` in UTF-8, uncompressed, under a Latin-1 `keyword`."""
    return chunk(
        b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    )


def image(ihdr: bytes, idat: bytes, ancillary: bytes = b"") -> bytes:
    """A whole PNG: the IHDR data `ihdr`, `ancillary` chunks (PLTE, tRNS) as written, one IDAT."""
    return SIGNATURE + chunk(b"IHDR", ihdr) + ancillary + chunk(b"IDAT", idat) + IEND


def header_size(head: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's first 24 bytes (signature, then IHDR's length, type, width
    and height); None when they are not a PNG's."""
    if len(head) < 24 or not head.startswith(SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def chunks(stream: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """Each chunk's type and data length, from the stream's position (past the signature) to IEND
    or to where the stream ends. At each, the stream stands at the chunk's data: read it or not,
    the next step seeks past it and its CRC (which is not checked)."""
    while len(head := stream.read(8)) == 8:
        length, kind = struct.unpack(">I4s", head)
        data_at = stream.tell()
        yield kind, length
        if kind == b"IEND":
            return
        stream.seek(data_at + length + 4)
