"""Problems found in a recipe or a request, and the result object that collects them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Path = tuple[str | int | float, ...]  # mapping keys as YAML reads them (a float key stays a float)
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding: a stable code, a sentence for people, and where it is.

    `path` points into the document that was checked (an API request body, or a
    recipe); `api_code` is the DashScope error code the service answers with; `guess` is the id
    in spec/guesses.yaml of the guessed rule that made this finding, if one did. `recipe_note`
    adds, for a recipe's author, what the service's own message leaves out (the recipe key it
    means, and why); the emulator answers with `message` alone.
    """

    code: str
    message: str
    path: Path = ()
    severity: Severity = "error"
    api_code: str = "InvalidParameter"
    guess: str | None = None
    recipe_note: str | None = None


def json_path(path: Path) -> str:
    """Render a path the way people write it: `input.messages[0].content[1]`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


@dataclass(frozen=True)
class Location:
    """A place in a file; line and column count from 1."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file


@dataclass(frozen=True)
class Finding:
    """A problem placed in a file."""

    location: Location
    problem: Problem

    def as_dict(self) -> dict:
        p = self.problem
        return {
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "severity": p.severity,
            "code": p.code,
            "message": p.message,
        }


@dataclass
class Report:
    """Everything one validation found, file by file; reporters render it."""

    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, location: Location, problems: Iterable[Problem]) -> None:
        self.findings.extend(Finding(location, p) for p in problems)

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.problem.severity == "error"]

    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.problem.severity == "warning"]

    def ok(self, strict: bool = False) -> bool:
        return not self.errors() and not (strict and self.warnings())
