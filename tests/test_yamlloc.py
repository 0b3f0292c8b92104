"""wanform.spec.yamlloc: YAML with a line and column for every node, and one clear YamlError for
what a
recipe must not be."""

from __future__ import annotations

from pathlib import Path

import pytest

from wanform.spec.yamlloc import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    Located,
    Mark,
    YamlError,
    load_file,
    load_text,
)

NESTED = """\
model: wan2.7-image
inputs:
  - path: a.png
  - path: b.png
    bboxes:
      - [1, 2, 3, 4]
      - [5, 6, 7, 8]
palette: [{hex: "#000000", ratio: 50}]
"""


def _error(text: str) -> YamlError:
    with pytest.raises(YamlError) as caught:
        load_text(text)
    return caught.value


def test_values_of_nested_keys_and_sequence_items_are_marked() -> None:
    """Every value, down to a number inside a box of the second input,
    has its own 1-based line and column."""
    located = load_text(NESTED)
    assert located.values[()] == Mark(1, 1)
    assert located.values[("inputs",)] == Mark(3, 3)
    assert located.values[("inputs", 1)] == Mark(4, 5)
    assert located.values[("inputs", 1, "path")] == Mark(4, 11)
    assert located.values[("inputs", 1, "bboxes", 1)] == Mark(7, 9)
    assert located.values[("inputs", 1, "bboxes", 1, 2)] == Mark(7, 16)
    assert located.values[("palette", 0, "ratio")] == Mark(8, 35)


def test_keys_are_marked_separately_from_values() -> None:
    """A mapping entry has the mark of its key as well as of its value."""
    located = load_text(NESTED)
    assert located.keys[("inputs", 1, "bboxes")] == Mark(5, 5)
    assert located.keys[("palette", 0, "hex")] == Mark(8, 12)
    assert located.mark(("inputs", 1, "bboxes"), key=True) == Mark(5, 5)
    assert located.mark(("inputs", 1, "bboxes")) == Mark(6, 7)


def test_mark_of_a_missing_path_is_its_deepest_existing_node() -> None:
    """A path into nodes that do not exist is marked at the deepest node that does, or at 1:1."""
    located = load_text(NESTED)
    assert located.mark(("inputs", 1, "bboxes", 5, 0)) == Mark(6, 7)
    assert located.mark(("seed",)) == Mark(1, 1)
    assert Located(None).mark(("anything",)) == Mark(1, 1)


def test_values_are_plain_python() -> None:
    """The loaded document holds plain dicts, lists and scalars, nothing of pyyaml's."""
    assert load_text(NESTED).data == {
        "model": "wan2.7-image",
        "inputs": [{"path": "a.png"}, {"path": "b.png", "bboxes": [[1, 2, 3, 4], [5, 6, 7, 8]]}],
        "palette": [{"hex": "#000000", "ratio": 50}],
    }


def test_merge_keys_are_applied() -> None:
    """`<<: *anchor` merges the anchored mapping,
    and merged keys keep the marks of where they are written."""
    located = load_text("base: &b {size: 1K, n: 2}\njob:\n  <<: *b\n  seed: 7\n")
    assert located.data["job"] == {"size": "1K", "n": 2, "seed": 7}
    assert located.keys[("job", "size")] == Mark(1, 11)
    assert located.keys[("job", "seed")] == Mark(4, 3)


def test_merge_keys_can_be_overridden() -> None:
    """A key written next to `<<` overrides the merged value,
    as YAML's merge key defines; it is not a duplicate."""
    located = load_text("base: &b {size: 1K, n: 2}\njob:\n  <<: *b\n  n: 4\n")
    assert located.data["job"] == {"size": "1K", "n": 4}
    assert located.values[("job", "n")] == Mark(4, 6)


def test_duplicate_key_names_the_first_line() -> None:
    """A key given twice is an error at the
    second occurrence whose message names the line of the first."""
    error = _error("model: wan2.7-image\nn: 1\nseed: 3\nn: 2\n")
    assert (error.code, error.message, error.mark) == (
        "duplicate-key",
        "duplicate key 'n' (first defined on line 2)",
        Mark(4, 1),
    )


def test_duplicate_key_in_a_nested_mapping() -> None:
    """Duplicates are found in nested mappings too, at the nested key's own column."""
    error = _error("inputs:\n  - path: a.png\n    path: b.png\n")
    assert (error.code, error.mark) == ("duplicate-key", Mark(3, 5))


def test_alias_bomb_is_yaml_too_large() -> None:
    """A billion-laughs document is refused with yaml-too-large instead of being expanded."""
    rows = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    rows += [
        f"{b}: &{b} [{', '.join(['*' + a] * 9)}]"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    error = _error("\n".join(rows) + "\nprompt: *i\n")
    assert error.code == "yaml-too-large"
    assert error.message == (
        f"the document expands to more than {MAX_NODES} nodes (aliases referring to aliases?); "
        "a recipe is far smaller"
    )


def test_node_limit_is_inclusive() -> None:
    """A document of exactly MAX_NODES nodes loads; one more node is yaml-too-large."""

    def document(items: int) -> str:  # the mapping, its key and the list are three nodes
        return "a: [" + ", ".join(["1"] * items) + "]\n"

    assert len(load_text(document(MAX_NODES - 3)).data["a"]) == MAX_NODES - 3
    assert _error(document(MAX_NODES - 2)).code == "yaml-too-large"


def test_recursive_alias_is_yaml_too_deep() -> None:
    """An alias inside its own anchor is refused at the depth limit, at the anchored node."""
    error = _error("model: x\nloop: &l [*l]\n")
    assert (error.code, error.mark) == ("yaml-too-deep", Mark(2, 7))


def test_depth_limit_is_inclusive() -> None:
    """Nesting to exactly MAX_DEPTH levels loads; one level more is yaml-too-deep."""

    def document(depth: int) -> str:  # `a` is level 1, each list one more
        return "a: " + "[" * depth + "]" * depth + "\n"

    expected: list = []
    for _ in range(MAX_DEPTH - 1):
        expected = [expected]
    assert load_text(document(MAX_DEPTH)).data["a"] == expected
    assert _error(document(MAX_DEPTH + 1)).code == "yaml-too-deep"


def test_syntax_error_has_a_mark() -> None:
    """A syntax error carries the parser's line and column."""
    error = _error("model: wan2.7-image\nprompt: a\n  n: 1\n")
    assert (error.code, error.mark) == ("yaml-syntax", Mark(3, 4))
    assert error.message.startswith("invalid YAML: mapping values are not allowed")


def test_empty_and_multi_document_text() -> None:
    """No document is yaml-empty without a mark;
    a second document is yaml-documents at its start."""
    empty = _error("# only a comment\n")
    two = _error("a: 1\n---\nb: 2\n")
    assert (empty.code, empty.mark) == ("yaml-empty", None)
    assert (two.code, two.mark) == ("yaml-documents", Mark(3, 1))


def test_unknown_tag_is_yaml_value() -> None:
    """A tag the safe loader cannot construct is yaml-value at that node."""
    error = _error("prompt: !shout hello\n")
    assert (error.code, error.mark) == ("yaml-value", Mark(1, 9))


def test_bad_core_tag_value_is_yaml_value() -> None:
    """A core tag whose text does not fit it
    (`!!int many`) is yaml-value, not a ValueError escaping the loader."""
    error = _error("n: !!int many\n")
    assert (error.code, error.mark) == ("yaml-value", Mark(1, 4))


def test_complex_key_is_yaml_key() -> None:
    """A list used as a mapping key is yaml-key at the key."""
    error = _error("? [a, b]\n: 1\n")
    assert (error.code, error.mark) == ("yaml-key", Mark(1, 3))


def test_non_utf8_reports_line_and_column(tmp_path: Path) -> None:
    """A byte that is not UTF-8 is reported at its line and column."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"model: wan2.7-image\nprompt: caf\xe9\n")
    with pytest.raises(YamlError) as caught:
        load_file(str(path))
    assert (caught.value.code, caught.value.message, caught.value.mark) == (
        "not-utf8",
        "the file is not valid UTF-8",
        Mark(2, 12),
    )


def test_non_utf8_column_counts_characters(tmp_path: Path) -> None:
    """The column of a bad byte counts the characters before it,
    like every other mark, not their bytes."""
    path = tmp_path / "mixed.yaml"
    path.write_bytes("prompt: café ".encode() + b"\xff\n")
    with pytest.raises(YamlError) as caught:
        load_file(str(path))
    assert caught.value.mark == Mark(1, 14)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    """A UTF-8 byte-order mark is skipped, and marks still start at column 1."""
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfmodel: wan2.7-image\n")
    located = load_file(str(path))
    assert (located.data, located.keys[("model",)]) == ({"model": "wan2.7-image"}, Mark(1, 1))


def test_file_over_the_byte_cap(tmp_path: Path) -> None:
    """A file over MAX_BYTES is refused before parsing; one of exactly MAX_BYTES is parsed."""
    at_cap = tmp_path / "at-cap.yaml"
    at_cap.write_bytes(b"a: 1\n" + b"#" * (MAX_BYTES - 6) + b"\n")
    over = tmp_path / "over.yaml"
    over.write_bytes(at_cap.read_bytes() + b"\n")
    assert load_file(str(at_cap)).data == {"a": 1}
    with pytest.raises(YamlError) as caught:
        load_file(str(over))
    assert (caught.value.code, caught.value.mark) == ("file-too-large", None)


def test_unreadable_path(tmp_path: Path) -> None:
    """A path that cannot be read as a file (here a directory) is `unreadable`, not an OSError."""
    with pytest.raises(YamlError) as caught:
        load_file(str(tmp_path))
    assert caught.value.code == "unreadable"
