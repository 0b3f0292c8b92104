"""The one PNG module: chunks written with their CRCs, read by type and length, and the signature
written nowhere else."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

from wanform.spec.formats import png

REPO = Path(__file__).resolve().parents[2]


def test_a_chunk_is_length_type_data_and_the_crc_of_type_and_data() -> None:
    """The layout the PNG specification gives, byte for byte."""
    assert png.chunk(b"tEXt", b"ab") == (
        b"\x00\x00\x00\x02tEXtab" + struct.pack(">I", zlib.crc32(b"tEXtab"))
    )
    assert png.IEND == b"\x00\x00\x00\x00IEND\xaeB`\x82"


def test_an_image_built_from_chunks_opens_in_pillow_with_its_text() -> None:
    """A 2x1 RGB image assembled here, an iTXt chunk inserted, decodes to its pixels and text."""
    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" + bytes([255, 0, 0, 0, 0, 255]))
    data = png.image(ihdr, rows, png.text_chunk("Description", "一只狐狸"))
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert (im.size, im.getpixel((0, 0)), im.getpixel((1, 0))) == (
            (2, 1),
            (255, 0, 0),
            (0, 0, 255),
        )
        assert im.text == {"Description": "一只狐狸"}


def test_chunks_lists_types_and_lengths_whether_or_not_the_caller_reads_the_data() -> None:
    """Reading one chunk's data, skipping another's, the walk still lands on every chunk head."""
    data = png.image(b"H" * 13, b"pixels", png.chunk(b"tRNS", b"xyz"))
    stream = io.BytesIO(data)
    stream.seek(len(png.SIGNATURE))
    seen = []
    for kind, length in png.chunks(stream):
        seen.append((kind, length, stream.read(length) if kind == b"IDAT" else None))
    assert seen == [
        (b"IHDR", 13, None),
        (b"tRNS", 3, None),
        (b"IDAT", 6, b"pixels"),
        (b"IEND", 0, None),
    ]


def test_chunks_stop_at_iend_and_where_the_stream_ends() -> None:
    """Bytes after IEND are not chunks; a stream cut inside a chunk head ends the walk."""
    after = io.BytesIO(png.chunk(b"IHDR", b"h") + png.IEND + png.chunk(b"tEXt", b"late"))
    assert [kind for kind, _ in png.chunks(after)] == [b"IHDR", b"IEND"]
    cut = io.BytesIO(png.chunk(b"IHDR", b"h") + png.chunk(b"IDAT", b"d")[:5])
    assert [kind for kind, _ in png.chunks(cut)] == [b"IHDR"]


def test_the_png_signature_is_written_only_in_spec_png() -> None:
    """The runner, the emulator and the rest of spec/ take PNG's container from its one module."""
    holders = [
        path.relative_to(REPO).as_posix()
        for folder in ("runner", "emulator", "spec")
        for path in sorted((REPO / folder).rglob("*.py"))
        if b"\\x89PNG" in path.read_bytes()
    ]
    assert holders == ["spec/formats/png.py"]


def test_header_size_reads_width_and_height_from_the_first_24_bytes() -> None:
    """A PNG's IHDR gives its size without Pillow; other bytes, or too few, give none."""
    data = png.image(struct.pack(">IIBBBBB", 640, 480, 8, 2, 0, 0, 0), b"")
    assert png.header_size(data[:24]) == (640, 480)
    assert png.header_size(data[:23]) is None
    assert png.header_size(b"\xff\xd8" + data[2:24]) is None
