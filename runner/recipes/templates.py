"""Templates in a data-driven recipe: `{column}` fields in its strings, and `{column: NAME}` values
that take a cell whole, filled from each job's row.

The language is `string.Formatter`'s field syntax, parsed and never evaluated: a field is a
column's name and nothing else (no attribute or index access, no conversion, no format spec),
`{{` and `}}` write braces. A Jinja2 sandbox would add a dependency and a language (loops,
filters) whose errors are harder to place at a line and column.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from wanform.runner.recipes.table import ROWS, text_of, typed
from wanform.spec.problems import Path, Problem

# A recipe path that points at a character of a string: (TEXT, offset, *path).
TEXT = "\0text"
# Keys that say what the jobs are, not what each one asks: never templated.
FIXED = frozenset({"name", "model", "rows", "key", "files", "matrix"})
COLUMN = "column"
_FORMATTER = string.Formatter()


@dataclass(frozen=True, slots=True)
class Template:
    """A string with fields (`parts` alternate literal text and a field's column), or a
    `{column: NAME}` value (`whole`: the cell itself, typed)."""

    parts: tuple[str, ...]
    whole: bool = False
    offsets: tuple[int, ...] = ()  # where each field starts in the text as written

    @property
    def fields(self) -> tuple[str, ...]:
        return self.parts[1::2]

    @property
    def cell(self) -> str | None:
        """The column that gives the whole value, when one does."""
        return self.parts[1] if self.parts[::2] == ("", "") else None

    def fill(self, row: Mapping[str, object]) -> object:
        if self.whole:
            return typed(row.get(self.parts[1]))
        return "".join(
            text_of(row.get(part)) if i % 2 else part for i, part in enumerate(self.parts)
        )


Templates = Mapping[Path, Template]


def _parse(text: str, path: Path) -> Template | Problem:
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        return Problem("template-syntax", f"{exc}: write {{{{ and }}}} for braces", path)
    parts: list[str] = []
    offsets: list[int] = []
    literal, offset = "", 0  # offset: in the text as written, where `{{` is two characters
    for text_part, field, spec, conversion in parsed:
        literal += text_part
        offset += len(text_part) + text_part.count("{") + text_part.count("}")
        if field is None:
            continue
        if field == "" or field.isdigit() or spec or conversion:
            return Problem(
                "template-syntax",
                "a field is a column's name and nothing else, as in {sku}",
                (TEXT, offset, *path),
            )
        parts += [literal, field]
        offsets.append(offset)
        literal = ""
        offset += len(field) + 2
    return Template((*parts, literal), offsets=tuple(offsets))


def _strings(value: object, path: Path) -> Iterator[tuple[Path, object]]:
    """Every string and `{column: NAME}` value below `value`."""
    if isinstance(value, dict) and list(value) == [COLUMN]:
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))
    elif isinstance(value, str) and ("{" in value or "}" in value):
        yield path, value


def find(data: Mapping[str, object], columns: Sequence[str]) -> tuple[Templates, list[Problem]]:
    """The recipe's templates by path, and their problems: a field naming no column, a value
    naming no column, bad syntax."""
    found: dict[Path, Template] = {}
    problems: list[Problem] = []
    known = ", ".join(columns) or "(none)"
    for key, value in data.items():
        if key in FIXED:
            continue
        for path, raw in _strings(value, (key,)):
            if isinstance(raw, dict):
                column = raw[COLUMN]
                template: Template | Problem = Template(("", str(column), ""), whole=True)
                where: Path = (*path, COLUMN)
            else:
                template, where = _parse(str(raw), path), path
            if isinstance(template, Problem):
                problems.append(template)
                continue
            for i, field in enumerate(template.fields):
                if field not in columns:
                    at = where if template.whole else (TEXT, template.offsets[i], *path)
                    problems.append(
                        Problem("unknown-field", f"no column {field!r}; the rows have: {known}", at)
                    )
            found[path] = template
    return found, problems


def fill(values: dict, templates: Templates, row: Mapping[str, object]) -> dict:
    """`values` with every template filled from `row`; containers without a template below them
    are shared, not copied (10,000 rows need not hold 10,000 copies of a palette)."""
    above = {path[:end] for path in templates for end in range(1, len(path))}
    out = dict(values)
    for key in {path[0] for path in templates}:
        if key in out:
            out[key] = _filled(out[key], (key,), templates, above, row)
    return out


def _filled(
    value: object, path: Path, templates: Templates, above: set[Path], row: Mapping[str, object]
) -> object:
    template = templates.get(path)
    if template is not None:
        return template.fill(row)
    if path not in above:
        return value
    if isinstance(value, dict):
        return {k: _filled(v, (*path, k), templates, above, row) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, (*path, i), templates, above, row) for i, v in enumerate(value)]
    return value


def covers(templates: Templates, path: Path) -> bool:
    """Whether the value at `path` is, or is inside, a templated value."""
    return any(tuple(path[:end]) in templates for end in range(len(path), 0, -1))


def cell(templates: Templates, path: Path, row: int) -> Path | None:
    """The data file's cell a value at `path` came from whole, as (ROWS, row, column)."""
    for end in range(len(path), 0, -1):
        template = templates.get(tuple(path[:end]))
        if template is not None:
            column = template.cell
            return (ROWS, row, column) if column is not None else None
    return None
