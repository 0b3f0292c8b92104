"""A PNG the run writes stays valid: every chunk, provenance included, carries its right CRC."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

from wanform.runner.engine.results import Spool
from wanform.spec.formats.png import SIGNATURE as PNG_SIGNATURE


def chunks(data: bytes) -> list[tuple[bytes, bytes, int]]:
    """(type, payload, stored CRC) of every chunk after the signature."""
    out, at = [], len(PNG_SIGNATURE)
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, payload = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        out.append((kind, payload, crc))
        at += 12 + length
    return out


def test_provenance_chunks_have_valid_crcs_and_sit_before_iend(tmp_path: Path):
    """Each chunk's CRC covers its type and data, as the PNG spec says; IEND is still last."""
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    spool = Spool(tmp_path / "a.png")
    spool.chunks.append(buf.getvalue())
    out = spool.spill()
    spool.finish({"Software": "wanform", "Description": "一只狐狸"})
    out.commit()
    found = chunks((tmp_path / "a.png").read_bytes())
    assert [kind for kind, _, _ in found[-3:]] == [b"iTXt", b"iTXt", b"IEND"]
    assert [crc == zlib.crc32(kind + payload) for kind, payload, crc in found] == [True] * len(
        found
    )
