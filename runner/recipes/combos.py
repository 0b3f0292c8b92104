"""The combinations a recipe makes into jobs: each row of its table (or one job without a table)
times each combination of its `matrix` lists, less the `exclude` entries and with the `include`
entries, as in GitHub Actions' matrix."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from wanform.runner.recipes.table import Table, text_of
from wanform.spec.problems import Path, Problem

FILTERS = ("include", "exclude")


@dataclass(frozen=True, slots=True)
class Combo:
    """One job's share of the matrix: its row, its values by key with their recipe paths, and
    what its name shows."""

    row: int | None
    values: Mapping[str, object]
    origins: Mapping[str, Path]
    named: tuple[tuple[str, object], ...]


def lists(matrix: Mapping[str, object]) -> dict[str, list]:
    """The matrix's lists of values, without its `include` and `exclude` entries."""
    return {k: v for k, v in matrix.items() if k not in FILTERS and isinstance(v, list)}


def _matches(entry: Mapping[str, object], fields: Mapping[str, object]) -> bool:
    return all(k in fields and text_of(fields[k]) == text_of(v) for k, v in entry.items())


def _product(matrix: dict[str, list], table: Table | None, key: str) -> Iterator[Combo]:
    keys = list(matrix)
    for row in range(len(table.rows)) if table else [None]:
        named = ((key, table.rows[row].get(key)),) if table and row is not None else ()
        for indices in itertools.product(*(range(len(matrix[k])) for k in keys)):
            pairs = list(zip(keys, indices, strict=True))
            values = {k: matrix[k][i] for k, i in pairs}
            origins: dict[str, Path] = {k: ("matrix", k, i) for k, i in pairs}
            yield Combo(row, values, origins, named + tuple(values.items()))


def combos(data: Mapping, table: Table | None, key: str) -> tuple[list[Combo], list[Problem]]:
    """The recipe's combinations in order, and the `include` entries that match none of a
    table's rows (without a table such an entry is a combination of its own)."""
    matrix = data.get("matrix") or {}
    listed = lists(matrix)
    excluded = matrix.get("exclude") or []
    out = []
    for combo in _product(listed, table, key):
        fields = _fields(combo, table)
        if not any(_matches(entry, fields) for entry in excluded):
            out.append(combo)
    problems = []
    for j, entry in enumerate(matrix.get("include") or []):
        if not _include(out, j, entry, table, listed):
            if table is not None:
                problems.append(
                    Problem(
                        "include-unmatched",
                        "this entry matches no row: with rows, `include` adds values to the "
                        "combinations it matches and makes none of its own",
                        ("matrix", "include", j),
                    )
                )
            else:
                origins = {k: ("matrix", "include", j, k) for k in entry}
                out.append(Combo(None, dict(entry), origins, tuple(entry.items())))
    return out, problems


def _fields(combo: Combo, table: Table | None) -> Mapping[str, object]:
    row = table.rows[combo.row] if table is not None and combo.row is not None else {}
    return {**row, **combo.values}


def _include(out: list[Combo], j: int, entry: dict, table: Table | None, listed: dict) -> bool:
    """Add `entry`'s other values to each combination whose own values it matches."""
    columns = set(table.columns) if table is not None else set()
    original = {k: v for k, v in entry.items() if k in listed or k in columns}
    extra = {k: v for k, v in entry.items() if k not in original}
    found = False
    for i, combo in enumerate(out):
        if _matches(original, _fields(combo, table)):
            found = True
            origins = {**combo.origins, **{k: ("matrix", "include", j, k) for k in extra}}
            out[i] = Combo(combo.row, {**combo.values, **extra}, origins, combo.named)
    return found
