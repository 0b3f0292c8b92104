"""The compiled schema check is cached on disk between processes, and a bad cache entry costs
only a recompile."""

from __future__ import annotations

import fastjsonschema
import pytest

from wanform.spec.schema import SchemaCheck, compiled

SCHEMA = {
    "$id": "https://wanform.dev/schemas/test.schema.json",
    "type": "object",
    "properties": {"n": {"type": "integer", "maximum": 4}},
    "required": ["n"],
}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "wanform"


def test_the_second_compile_reads_the_cache(cache, monkeypatch):
    """A schema compiled once is loaded from its cache file, without generating code again."""
    assert compiled(SCHEMA)({"n": 3}) == {"n": 3}
    (entry,) = cache.iterdir()
    monkeypatch.setattr(fastjsonschema, "compile_to_code", pytest.fail)
    check = compiled(SCHEMA)
    assert check({"n": 4}) == {"n": 4}
    with pytest.raises(fastjsonschema.JsonSchemaException):
        check({"n": 5})
    assert list(cache.iterdir()) == [entry]


@pytest.mark.parametrize("content", [b"", b"not marshal data", b"\xe3" + b"\x00" * 40])
def test_a_damaged_cache_entry_is_replaced(cache, content):
    """A truncated or foreign cache file is compiled anew and rewritten, not trusted."""
    compiled(SCHEMA)
    (entry,) = cache.iterdir()
    entry.write_bytes(content)
    assert SchemaCheck(SCHEMA).problems({"n": 9})[0].code == "out-of-range"
    assert entry.read_bytes() != content


def test_an_unwritable_cache_is_done_without(tmp_path, monkeypatch):
    """Where the cache folder cannot be made, the check still works."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert SchemaCheck(SCHEMA).problems({"n": 1}) == []
