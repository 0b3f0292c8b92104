"""Recipe files: finding them, loading them with locations, and expanding `matrix` into jobs."""

from __future__ import annotations

import functools
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import cast

from spec.models import MODELS
from spec.problems import Location, Path, Problem
from spec.schema import SchemaCheck
from spec.schemagen import recipe_schema
from spec.yamlloc import Located, YamlError, load_file

RECIPE_SUFFIXES = (".yaml", ".yml")
YAML_KINDS = {
    list: "a list",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "empty",
}


@dataclass
class Recipe:
    """One recipe file, parsed, with its display path and its project root."""

    file: str  # as shown to people: relative to the current directory when possible
    abspath: FsPath
    root: FsPath
    located: Located

    @property
    def data(self) -> dict:
        return cast(dict, self.located.data)  # load() makes a Recipe of a mapping only

    @property
    def name(self) -> str:
        return self.data.get("name") or self.abspath.stem

    def location(self, path: Path, key: bool = False) -> Location:
        mark = self.located.mark(path, key)
        return Location(self.file, mark.line, mark.column)


@dataclass
class Job:
    """One request's worth of a recipe: its values after matrix substitution, and their origins."""

    recipe: Recipe
    name: str
    values: dict
    origins: dict[str, Path] = field(default_factory=dict)

    def origin(self, key: str) -> Path:
        """The recipe path a top-level value came from (a matrix entry, or the key itself)."""
        return self.origins.get(key, (key,))


def display_path(path: FsPath) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


NOT_A_FILE = Problem(
    "unreadable",
    "not a regular file: a broken or looping symbolic link, a device, a socket or a pipe",
)


def discover(paths: list[str]) -> tuple[list[FsPath], list[tuple[str, Problem]]]:
    """Every recipe file named, or found below a named directory (sorted there), and the paths
    that cannot be used, each with its problem."""
    files, missing = [], []
    for raw in paths:
        path = FsPath(raw)
        if path.is_dir():
            for found in sorted(
                p for p in path.rglob("*") if p.suffix in RECIPE_SUFFIXES and not p.is_dir()
            ):
                if found.is_file():
                    files.append(found)
                else:
                    missing.append((str(found), NOT_A_FILE))
        elif path.is_file():
            files.append(path)
        elif path.exists():
            missing.append((raw, NOT_A_FILE))
        else:
            missing.append((raw, Problem("not-found", "no such file or directory")))
    return files, missing


def load(path: FsPath, root: FsPath) -> tuple[Recipe | None, list[Problem], Location]:
    """Parse and schema-check one recipe; on a problem the recipe is None or the problems are
    non-empty."""
    shown = display_path(path)
    try:
        located = load_file(str(path))
    except YamlError as exc:
        mark = exc.mark
        return (
            None,
            [Problem(exc.code, exc.message)],
            Location(shown, mark.line if mark else 0, mark.column if mark else 0),
        )
    recipe = Recipe(shown, path.resolve(), root.resolve(), located)
    if not isinstance(located.data, dict):
        kind = YAML_KINDS.get(type(located.data), "a single value")
        return (
            None,
            [Problem("not-a-mapping", f"a recipe is a mapping of keys to values, not {kind}")],
            recipe.location(()),
        )
    problems = _recipe_check().problems(located.data)
    return recipe, problems + _missing(located.data), recipe.location(())


@functools.cache
def _recipe_check() -> SchemaCheck:
    return SchemaCheck(recipe_schema())


def _missing(data: dict) -> list[Problem]:
    """Keys every job needs, given at the top level or in `matrix`."""
    model = data.get("model")
    spec = MODELS.get(model) if isinstance(model, str) else None
    needed = ["prompt"] + (["function", "inputs"] if spec and spec.family == "imageedit" else [])
    matrix = data.get("matrix")
    matrix = matrix if isinstance(matrix, dict) else {}  # any other matrix is a schema problem
    return [
        Problem("missing", f"Field required: {key}", ())
        for key in needed
        if key not in data and key not in matrix
    ]


def _suffix(combo: dict[str, object]) -> str:
    return "[" + ",".join(f"{k}={v}" for k, v in combo.items()) + "]"


def expand(recipe: Recipe) -> list[Job]:
    """The jobs of a recipe: one, or the cartesian product of its `matrix`."""
    base = {k: v for k, v in recipe.data.items() if k != "matrix"}
    matrix = recipe.data.get("matrix") or {}
    if not matrix:
        return [Job(recipe, recipe.name, base)]
    keys = list(matrix)
    jobs = []
    for indices in itertools.product(*(range(len(matrix[k])) for k in keys)):
        combo = {k: matrix[k][i] for k, i in zip(keys, indices, strict=True)}
        origins: dict[str, Path] = {k: ("matrix", k, i) for k, i in zip(keys, indices, strict=True)}
        jobs.append(Job(recipe, recipe.name + _suffix(combo), {**base, **combo}, origins))
    return jobs
