"""Data-driven acceptance tests: every recipe under tests/cases reports exactly what its header
declares.

A case's leading comment lines declare its findings, one per line and repeated when a line has the
same problem twice: `# expect: <code> <line>` for an error, `# expect-warning: <code> <line>` for a
warning. Line 0 means "the file as a whole". Valid cases declare no errors.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from wanform.runner.cli import main
from wanform.runner.recipes.check import Validation, validate_paths

HEADER = re.compile(r"^# expect(?P<warning>-warning)?: (?P<code>[a-z0-9-]+) (?P<line>\d+)$")


@dataclass(frozen=True)
class Findings:
    """The (code, line) pairs of a recipe's errors and warnings, sorted, duplicates kept."""

    errors: tuple[tuple[str, int], ...]
    warnings: tuple[tuple[str, int], ...]


def _text(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    return raw.decode("utf-8", errors="replace")  # a non-UTF-8 case still has an ASCII header


def expectations(path: Path) -> Findings:
    """What the header of the case at `path` declares."""
    errors, warnings = [], []
    for line in _text(path.read_bytes()).splitlines():
        if not line.startswith("#"):
            break
        match = HEADER.match(line)
        if match:
            (warnings if match["warning"] else errors).append((match["code"], int(match["line"])))
    return Findings(tuple(sorted(errors)), tuple(sorted(warnings)))


def findings(result: Validation) -> Findings:
    """The (code, line) pairs a validation reported."""

    def pairs(severity: str) -> tuple[tuple[str, int], ...]:
        return tuple(
            sorted(
                (f.problem.code, f.location.line)
                for f in result.report.findings
                if f.problem.severity == severity
            )
        )

    return Findings(pairs("error"), pairs("warning"))


def json_findings(document: dict) -> Findings:
    """The (code, line) pairs of a `validate -o json` document."""

    def pairs(severity: str) -> tuple[tuple[str, int], ...]:
        return tuple(
            sorted(
                (p["code"], p["line"]) for p in document["problems"] if p["severity"] == severity
            )
        )

    return Findings(pairs("error"), pairs("warning"))


def test_invalid_case(case_root: Path, invalid_case: str) -> None:
    """An invalid recipe reports exactly the errors and warnings its header declares."""
    path = case_root / "invalid" / invalid_case
    expected = expectations(path)
    assert expected.errors, f"{invalid_case} declares no error"
    assert findings(validate_paths([str(path)], root=case_root)) == expected


def test_valid_case(case_root: Path, valid_case: str) -> None:
    """A valid recipe reports no error, and only the warnings its header declares."""
    path = case_root / "valid" / valid_case
    expected = expectations(path)
    assert expected.errors == ()
    assert findings(validate_paths([str(path)], root=case_root)) == expected


CLI_SAMPLE = (
    "bbox-outside-second-image.yaml",
    "palette-sum-99.99.yaml",
    "wanx21-mask-size.yaml",
    "matrix-bad-n.yaml",
    "image-gif.yaml",
    "path-escapes-root.yaml",
    "yaml-duplicate-key.yaml",
    "not-utf8-latin1.yaml",
    "root-is-a-list.yaml",
)


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_invalid_case_through_cli(case_root: Path, name: str) -> None:
    """`wanform validate -o json` exits 1 and reports
    the same findings as the case header declares."""
    path = case_root / "invalid" / name
    result = CliRunner().invoke(
        main,
        ["validate", "-o", "json", "--root", str(case_root), str(path)],
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    assert json_findings(json.loads(result.stdout)) == expectations(path)


def _listed(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_invalid_directory_flags_every_file(case_root: Path) -> None:
    """Validating the whole invalid directory at once marks every one of its recipes invalid."""
    result = validate_paths([str(case_root / "invalid")], root=case_root)
    assert sorted(Path(f).name for f in result.invalid) == _listed(case_root / "invalid")


def test_valid_directory_has_no_errors(case_root: Path) -> None:
    """Validating the whole valid directory at once finds no
    error and builds at least one job per recipe."""
    result = validate_paths([str(case_root / "valid")], root=case_root)
    assert (result.recipes, result.invalid, result.report.errors()) == (
        len(_listed(case_root / "valid")),
        set(),
        [],
    )
    assert len(result.jobs) >= result.recipes
