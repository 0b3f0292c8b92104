"""Result files: names, atomic writes, PNG text chunks, and provenance without secrets or bulk."""

from __future__ import annotations

import base64
import hashlib
import io
import os

import pytest
from PIL import Image

from wanform.runner.api.errors import FileError
from wanform.runner.engine.outputs import Stems, finish_png, redact
from wanform.runner.files.atomic import AtomicFile, write_atomic
from wanform.runner.files.names import safe_name


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


def test_png_text_chunks_are_readable_and_the_digest_is_of_the_final_file(tmp_path):
    """The provenance chunks sit before IEND; the returned sha256 is the file on disk."""
    out = AtomicFile(tmp_path / "a.png")
    out.write(png_bytes())
    digest = finish_png(out, {"Description": "一只狐狸", "wanform": '{"job": "fox"}'})
    out.commit()
    data = (tmp_path / "a.png").read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest
    with Image.open(tmp_path / "a.png") as img:
        img.load()
        assert img.text == {"Description": "一只狐狸", "wanform": '{"job": "fox"}'}


def test_a_truncated_png_is_refused_and_leaves_nothing(tmp_path):
    """Half a PNG never reaches its final name; the temporary file is removed."""
    out = AtomicFile(tmp_path / "a.png")
    out.write(png_bytes()[:40])
    with pytest.raises(FileError, match="not a complete PNG"):
        finish_png(out, {})
    out.discard()
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
