"""Recipe values that used to crash `validate`: each is a located problem, and other files are
still reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wanform.runner.recipes.check import validate_paths
from wanform.spec.yamlloc import Mark, YamlError, load_text

BASE = "model: wan2.7-image\nprompt: a red car\n"
HUGE = "1" + "0" * 309


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("n: !!bool many", "bool"),
        ('n: !!int ""', "int"),
        ('n: !!int "+"', "int"),
        ('n: !!int "-"', "int"),
        ('n: !!float "_"', "float"),
    ],
)
def test_bad_core_tag_values_are_located(line: str, kind: str) -> None:
    """A core tag pyyaml cannot construct is a yaml-value error at the value."""
    with pytest.raises(YamlError) as caught:
        load_text(BASE + line + "\n")
    assert caught.value.code == "yaml-value"
    assert caught.value.mark is not None and caught.value.mark.line == 3
    assert caught.value.message.endswith(f"as {kind}")


def _codes(tmp_path: Path, text: str) -> list[tuple[str, int, str]]:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "good.yaml").write_text(BASE + "n: 1\n", encoding="utf-8")
    result = validate_paths([str(tmp_path)], root=tmp_path)
    assert sorted(os.path.basename(f) for f in result.report.files) == ["bad.yaml", "good.yaml"]
    return [
        (os.path.basename(f.location.file), f.location.line, f.problem.code)
        for f in result.report.errors()
    ]


@pytest.mark.parametrize("key", ["seed", "strength"])
def test_integer_past_float_range_is_out_of_range(tmp_path: Path, key: str) -> None:
    """An integer above 1e308 is compared exactly, not turned into a float that overflows."""
    model = "wanx2.1-imageedit" if key == "strength" else "wan2.7-image"
    extra = "function: stylization_all\ninputs: [{path: a.png}]\n" if key == "strength" else ""
    text = f"model: {model}\nprompt: a red car\nn: 1\n{extra}{key}: {HUGE}\n"
    assert ("bad.yaml", text.count("\n"), "out-of-range") in _codes(tmp_path, text)


def test_symlink_loop_input_is_located(tmp_path: Path) -> None:
    """An input path caught in a symlink loop is an input-not-found error on its line."""
    os.symlink("loop2", tmp_path / "loop1")
    os.symlink("loop1", tmp_path / "loop2")
    text = BASE + "n: 1\ninputs:\n  - path: loop1\n"
    assert _codes(tmp_path, text) == [("bad.yaml", 5, "input-not-found")]


def test_bad_tag_in_one_file_keeps_the_others(tmp_path: Path) -> None:
    """A file with `!!bool many` is reported, and the valid file beside it still is."""
    assert _codes(tmp_path, BASE + "n: !!bool many\n") == [("bad.yaml", 3, "yaml-value")]


def test_control_character_is_located() -> None:
    """A character YAML forbids is a yaml-syntax error at its line and column."""
    with pytest.raises(YamlError) as caught:
        load_text(BASE + "description: \x1f\n")
    assert (caught.value.code, caught.value.mark) == ("yaml-syntax", Mark(3, 14))
    assert "U+001F" in caught.value.message


def test_matrix_that_is_not_a_mapping_with_a_missing_key(tmp_path: Path) -> None:
    """`matrix: 256` beside a missing prompt is two problems, not a TypeError."""
    codes = _codes(tmp_path, "model: wan2.7-image\nn: 1\nmatrix: 256\n")
    assert sorted(code for _, _, code in codes) == ["missing", "wrong-type"]
