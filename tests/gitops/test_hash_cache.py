"""The image-hash cache: a saved hash is reused only while the file's size and mtime hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wanform.runner.gitops.fingerprint import HashCache


def test_a_rewritten_file_is_hashed_again_after_the_cache_was_saved(tmp_path: Path):
    """Same size, new bytes, new mtime: a fresh cache reads the file again, not its saved entry."""
    image = tmp_path / "in.png"
    image.write_bytes(b"first")
    cache = HashCache(tmp_path)
    before = cache.file(image)
    cache.save()
    image.write_bytes(b"other")
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert HashCache(tmp_path).file(image) != before
    assert before == "sha256:a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e"


@pytest.mark.parametrize(
    "content",
    ["[]", '{"in.png": 5}', '{"in.png": [5, 6]}', '{"in.png": ["5", 1, "sha256:00"]}', "{"],
)
def test_a_damaged_cache_is_a_miss(tmp_path: Path, content: str):
    """A hashes.json not of the cache's shape is read as no cache: the file is hashed again."""
    image = tmp_path / "in.png"
    image.write_bytes(b"first")
    (tmp_path / ".wanform").mkdir()
    (tmp_path / ".wanform" / "hashes.json").write_text(content)
    assert HashCache(tmp_path).file(image) == (
        "sha256:a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e"
    )
