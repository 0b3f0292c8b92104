"""Result files: names, atomic writes, PNG text chunks, and provenance without secrets or bulk."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from wanform.runner.api.errors import FileError
from wanform.runner.engine.outputs import Stems, redact
from wanform.runner.engine.results import Spool, commit_image
from wanform.runner.files.atomic import write_atomic
from wanform.runner.files.names import safe_name
from wanform.runner.gitops import project
from wanform.spec.formats import png


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_matrix_suffixes_become_file_names():
    """Brackets, equals signs, commas and stars become dashes."""
    assert safe_name("fox[size=1024*1536,seed=1]") == "fox-size-1024-1536-seed-1"
    assert safe_name("[]") == "job"


def test_long_names_are_cut_and_keep_a_hash():
    """A name too long for a file system ends in a hash of the whole name,
    so two long names stay apart."""
    a, b = safe_name("x" * 300 + "a"), safe_name("x" * 300 + "b")
    assert len(a) == 120 and a != b


def test_names_that_sanitise_alike_are_told_apart():
    """Two jobs of one recipe whose names clash on disk each get a hash;
    others keep their plain name."""
    stems = Stems([("r", "p[x=a b]"), ("r", "p[x=a-b]"), ("r", "p[x=c]"), ("s", "p[x=a b]")])
    assert stems[("r", "p[x=c]")] == "p-x-c" and stems[("s", "p[x=a b]")] == "p-x-a-b"
    assert (
        stems[("r", "p[x=a b]")].startswith("p-x-a-b-")
        and stems[("r", "p[x=a b]")] != stems[("r", "p[x=a-b]")]
    )


def spooled(path: Path, pieces: list[bytes]) -> Spool:
    """A Spool given a download in `pieces`, each spilled to its file as it comes."""
    spool = Spool(path)
    for piece in pieces:
        spool.chunks.append(piece)
        spool.spill()
    return spool


def test_png_text_chunks_are_readable_and_the_digest_is_of_the_final_file(tmp_path):
    """The provenance chunks sit before IEND; the returned sha256 and size are the file's."""
    spool = spooled(tmp_path / "a.png", [png_bytes()])
    digest, size = spool.finish({"Description": "一只狐狸", "wanform": '{"job": "fox"}'})
    assert spool.out is not None
    spool.out.commit()
    data = (tmp_path / "a.png").read_bytes()
    assert (hashlib.sha256(data).hexdigest(), len(data)) == (digest, size)
    with Image.open(tmp_path / "a.png") as img:
        img.load()
        assert img.text == {"Description": "一只狐狸", "wanform": '{"job": "fox"}'}


@pytest.mark.parametrize("cut", [1, 5, 11, 12, 13, 40])
def test_a_download_in_pieces_is_hashed_as_written(tmp_path, cut):
    """A body spilled in pieces, some shorter than IEND or cutting through it, hashes as the
    file it makes, PNG or not."""
    data = png_bytes()
    ends = sorted({0, cut, len(data) - cut, len(data) - 3, len(data) - 1, len(data)})
    pieces = [data[a:b] for a, b in zip(ends, ends[1:], strict=False)]
    for name, head in (("a.png", []), ("b.bin", [b"x"])):  # b"x" first: not a PNG
        spool = spooled(tmp_path / name, head + pieces)
        digest, size = spool.finish({"Comment": "c"})
        assert spool.out is not None
        spool.out.commit()
        written = (tmp_path / name).read_bytes()
        assert (hashlib.sha256(written).hexdigest(), len(written)) == (digest, size)
        assert written.endswith(png.IEND) and (b"iTXt" in written) == (name == "a.png")


def test_a_written_png_carries_its_size_to_the_lock_which_opens_no_image(tmp_path, monkeypatch):
    """The size read from a PNG's header as it is written is the one the lock records: writing
    the lock opens no image again."""
    spool = spooled(tmp_path / "a.png", [png_bytes()])
    image = commit_image(spool, 1, {}, None)

    def opened(path):
        raise AssertionError(f"{path} was opened again")

    monkeypatch.setattr(project, "probe_file", opened)
    entry = project._output(image, tmp_path, {}, {})
    assert (entry["width"], entry["height"], image.pixels) == (8, 8, (8, 8))


def test_a_truncated_png_is_refused_and_leaves_nothing(tmp_path):
    """Half a PNG never reaches its final name; the temporary file is removed."""
    spool = spooled(tmp_path / "a.png", [png_bytes()[:40]])
    with pytest.raises(FileError, match="not a complete PNG"):
        spool.finish({})
    spool.discard()
    assert os.listdir(tmp_path) == []


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    """When the rename fails, the old file is untouched and no temporary file remains."""
    target = tmp_path / "s.json"
    target.write_bytes(b"old")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert os.listdir(tmp_path) == ["s.json"] and target.read_bytes() == b"old"


def test_provenance_keeps_digests_not_data_uris_and_drops_signatures():
    """A data URI becomes its MIME type, sha256 and size;
    a signed URL loses its query; other text stays."""
    data = png_bytes()
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    body = {
        "input": {
            "images": [
                uri,
                "https://oss/x.png?Expires=1&OSSAccessKeyId=k&Signature=s",
                "https://example.com/a.png?size=large",
            ]
        },
        "n": 1,
    }
    assert redact(body) == {
        "input": {
            "images": [
                f"data:image/png;sha256={hashlib.sha256(data).hexdigest()};bytes={len(data)}",
                "https://oss/x.png",
                "https://example.com/a.png?size=large",
            ]
        },
        "n": 1,
    }
