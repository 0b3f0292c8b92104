"""The rows of a data-driven recipe: a data file (CSV with a header row, JSON Lines, JSON or YAML)
or the files a glob matches, each row keeping where it is written.

A cell's place is found again from the file's text only when a problem is reported there: a table
of 10,000 rows holds its rows and one line number each.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path as FsPath

from wanform.spec.problems import Location, Problem
from wanform.spec.yamlloc import Located, YamlError, load_text

# A recipe path that points into the data file: (ROWS, row, column); row -1 is the header.
ROWS = "\0rows"
DATA_SUFFIXES = (".csv", ".jsonl", ".json", ".yaml", ".yml")
MAX_DATA_BYTES = 64 * 1024 * 1024
FILE_FIELDS = ("path", "name", "stem")  # what a `files:` row holds
INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
GLOB = re.compile(r"[*?[]")
DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]+")


class TableError(ValueError):
    """A data file that cannot be read as rows, at a line and column of it (0: the whole file)."""

    def __init__(self, code: str, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.column = code, message, line, column


@dataclass(slots=True)
class Table:
    """Rows of named cells, and how to find a cell in the file they came from."""

    file: str  # as shown to people
    rows: list[dict[str, object]]
    columns: tuple[str, ...]
    lines: list[int]  # each row's first line
    kind: str  # the suffix read, or "files"
    text: str = ""  # CSV and JSON Lines: to find a cell's column when one is reported
    located: Located | None = None  # JSON and YAML
    at: Location | None = None  # files: the recipe's `files:`
    split: list[str] | None = None  # `text`'s lines, split when a cell is first located
    path: FsPath | None = None  # a data file
    source: str = ""  # sha256 of a data file's bytes, as the hash cache writes it

    def location(self, row: int, column: str | None = None) -> Location:
        """Where row `row`'s cell `column` (or the row itself) is written."""
        if self.at is not None:
            return self.at
        if self.located is not None:
            mark = self.located.mark((row, column) if column is not None else (row,))
            return Location(self.file, mark.line, mark.column)
        line = self.lines[row] if row >= 0 else 1
        return Location(self.file, line, self._column(line, column))

    def _column(self, line: int, column: str | None) -> int:
        if column is None or column not in self.columns:
            return 1
        if self.split is None:
            self.split = self.text.splitlines()
        text = self.split[line - 1] if 0 < line <= len(self.split) else ""
        if self.kind == ".jsonl":
            return max(text.find(json.dumps(column)), 0) + 1
        starts = _csv_starts(text)
        return starts[min(self.columns.index(column), len(starts) - 1)]


def _csv_starts(text: str) -> list[int]:
    """The 1-based column where each comma-separated field of one line starts."""
    starts, quoted = [1], False
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            starts.append(i + 2)
    return starts


def text_of(value: object) -> str:
    """A cell as text: what a template writes and what `include`/`exclude` compare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def typed(value: object) -> object:
    """A CSV cell given whole to a key: a number or a boolean when it reads as one."""
    if not isinstance(value, str):
        return value
    if INTEGER.fullmatch(value):
        return int(value)
    if DECIMAL.fullmatch(value):
        return float(value)
    return {"true": True, "false": False}.get(value, value)


def read_table(path: FsPath, shown: str) -> Table:
    """The rows of the data file at `path`; TableError for a file that is not a table."""
    try:
        with open(path, "rb") as fh:
            # the size first: read(n) would set aside n bytes, however small the file
            if os.fstat(fh.fileno()).st_size > MAX_DATA_BYTES:
                raise TableError("file-too-large", f"{shown} is over {MAX_DATA_BYTES} bytes")
            raw = fh.read()
    except OSError as exc:
        raise TableError("unreadable", f"cannot read {shown}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TableError("not-utf8", f"{shown} is not valid UTF-8", line, 1) from exc
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _csv(text, shown)
    elif suffix == ".jsonl":
        table = _jsonl(text, shown)
    else:
        table = _document(text, shown, suffix)
    table.path, table.source = path, "sha256:" + hashlib.sha256(raw).hexdigest()
    return table


def _csv(text: str, shown: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header or not any(header):
            raise TableError("rows-empty", f"{shown} has no header row naming its columns", 1, 1)
        _check_header(header)
        rows: list[dict[str, object]] = []
        lines, line = [], reader.line_num + 1
        for cells in reader:
            if cells:
                if len(cells) != len(header):
                    raise TableError(
                        "row-width",
                        f"this row has {len(cells)} cells and the header {len(header)}",
                        line,
                        1,
                    )
                rows.append(dict(zip(header, cells, strict=True)))
                lines.append(line)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise TableError("csv-syntax", f"invalid CSV: {exc}", reader.line_num, 1) from exc
    return Table(shown, rows, tuple(header), lines, ".csv", text)


def _check_header(header: list[str]) -> None:
    starts = _csv_starts(",".join(header))
    seen: set[str] = set()
    for i, name in enumerate(header):
        if not name.strip():
            raise TableError(
                "bad-column", f"column {i + 1} of the header has no name", 1, starts[i]
            )
        if name in seen:
            raise TableError("bad-column", f"two columns are named {name!r}", 1, starts[i])
        seen.add(name)


def _jsonl(text: str, shown: str) -> Table:
    rows, lines, columns = [], [], {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TableError("json-syntax", f"invalid JSON: {exc.msg}", number, exc.colno) from exc
        if not isinstance(row, dict):
            raise TableError("row-not-a-mapping", "each line holds one JSON object", number, 1)
        rows.append(row)
        lines.append(number)
        columns.update(dict.fromkeys(row))
    return Table(shown, rows, tuple(columns), lines, ".jsonl", text)


def _document(text: str, shown: str, suffix: str) -> Table:
    try:
        located = load_text(text)
    except YamlError as exc:
        mark = exc.mark
        raise TableError(
            exc.code, exc.message, *((mark.line, mark.column) if mark else ())
        ) from exc
    data = located.data
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise TableError(
            "row-not-a-mapping", f"{shown} holds a list of mappings, one per row", 1, 1
        )
    columns: dict[str, None] = {}
    for row in data:
        columns.update(dict.fromkeys(str(k) for k in row))
    return Table(shown, data, tuple(columns), [0] * len(data), suffix, located=located)


def file_rows(folder: FsPath, pattern: str, root: FsPath) -> Iterator[dict[str, object]]:
    """A row for each file `pattern` matches from `folder`, in path order; TableError for a
    pattern that reaches outside the project `root` or matches nothing."""
    parts = FsPath(pattern).parts
    fixed = list(itertools.takewhile(lambda part: not GLOB.search(part), parts))
    if FsPath(pattern).is_absolute() or not (folder / "/".join(fixed)).resolve().is_relative_to(
        root
    ):
        raise TableError(
            "path-outside-root",
            f"{pattern} reaches outside the project root {root}; recipes may only read files "
            "inside it",
        )
    try:
        found = sorted(p for p in folder.glob(pattern) if p.is_file())
    except ValueError as exc:  # an empty or malformed pattern
        raise TableError("bad-glob", f"{pattern!r} is not a file pattern: {exc}") from exc
    if not found:
        raise TableError("files-none", f"{pattern} matches no file (looked in {folder})")
    for path in found:
        if not path.resolve().is_relative_to(root):
            raise TableError(
                "path-outside-root",
                f"{path.relative_to(folder).as_posix()} resolves to {path.resolve()}, outside the "
                f"project root {root}; recipes may only read files inside it",
            )
        relative = os.path.normpath(path.relative_to(folder)).replace(os.sep, "/")
        yield {"path": relative, "name": path.name, "stem": path.stem}


def key_problems(table: Table, key: str) -> list[Problem]:
    """An empty or duplicate key, at its cell."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, row in enumerate(table.rows):
        value = text_of(row.get(key))
        if not value.strip():
            problems.append(Problem("empty-key", f"this row has no {key}", (ROWS, i, key)))
        elif value in first:
            where = table.location(first[value])
            problems.append(
                Problem(
                    "duplicate-key",
                    f"{key} {value} is also the key of the row at line {where.line}; each row "
                    "needs its own",
                    (ROWS, i, key),
                )
            )
        else:
            first[value] = i
    return problems
