"""Recipe files: finding them, loading them with locations, and expanding `matrix` into jobs."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from types import MappingProxyType
from typing import cast

from wanform.runner.recipes import templates
from wanform.runner.recipes.combos import combos
from wanform.runner.recipes.table import (
    FILE_FIELDS,
    ROWS,
    Table,
    TableError,
    file_rows,
    key_problems,
    read_table,
)
from wanform.runner.recipes.templates import TEXT, Templates
from wanform.spec.models import MODELS
from wanform.spec.problems import Location, Path, Problem
from wanform.spec.schema import SchemaCheck, matches
from wanform.spec.schemagen import MATRIX_REFERENCE, RECIPE_NAME, recipe_keys
from wanform.spec.yamlloc import Located, YamlError, load_file

RECIPE_SUFFIXES = (".yaml", ".yml")
PROJECT_FILE = "wanform.yaml"
# keys whose values come from a short list: thousands of recipes share one string of each
SHARED_VALUES = ("model", "size")
# a recipe path that points into the project file's `defaults:` rather than into the recipe
DEFAULTS = "\0defaults"
# a recipe path that is a place in another file: (AT, file, line, column)
AT = "\0at"
NO_TEMPLATES: Templates = MappingProxyType({})
YAML_KINDS = {
    list: "a list",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "empty",
}


@dataclass(frozen=True)
class Defaults:
    """The project file's `defaults:`: recipe keys for every recipe whose model takes them."""

    values: Mapping[str, object] = field(default_factory=dict)
    file: str = PROJECT_FILE  # as shown to people
    located: Located | None = None

    def location(self, key_path: Path) -> Location:
        mark = self.located.mark(("defaults", *key_path)) if self.located else None
        return Location(self.file, mark.line if mark else 0, mark.column if mark else 0)


NO_DEFAULTS = Defaults()


@dataclass(slots=True)
class Recipe:
    """One recipe file, parsed, with its display path, its project root and the project's
    defaults."""

    file: str  # as shown to people: relative to the current directory when possible
    resolved: str  # the absolute path, as text: a run of 20,000 recipes holds no Path of each
    root: FsPath
    located: Located
    defaults: Defaults = NO_DEFAULTS
    # a data-driven recipe's rows (`rows:` or `files:`) and templates; left out of its repr, which
    # each of its jobs' reprs holds (asyncio.run builds the repr of a run's result)
    table: Table | None = field(default=None, repr=False)
    templates: Templates = field(default_factory=lambda: NO_TEMPLATES, repr=False)
    relative: str = field(init=False)  # the path from the project root, in the platform's spelling

    def __post_init__(self) -> None:
        # once: every job's key (read many times by validation and the plan) is made from it
        self.relative = os.path.relpath(self.resolved, self.root)

    @property
    def abspath(self) -> FsPath:
        return FsPath(self.resolved)

    @property
    def data(self) -> dict:
        return cast(dict, self.located.data)  # load() makes a Recipe of a mapping only

    @property
    def name(self) -> str:
        return self.data.get("name") or self.abspath.stem

    @property
    def key(self) -> str:
        """The column naming a row in job names: `key:`, or a file's path."""
        return str(self.data.get("key", "path"))

    def location(self, path: Path, key: bool = False) -> Location:
        if path[:1] == (DEFAULTS,):
            return self.defaults.location(path[1:])
        if path[:1] == (AT,):
            return Location(str(path[1]), int(path[2]), int(path[3]))
        if path[:1] == (ROWS,) and self.table is not None:
            return self.table.location(int(path[1]), str(path[2]) if len(path) > 2 else None)
        if path[:1] == (TEXT,):
            mark = self.located.text_mark(path[2:], int(path[1]))
        else:
            mark = self.located.mark(path, key)
        return Location(self.file, mark.line, mark.column)

    def applied_defaults(self) -> tuple[dict, list[str]]:
        """The defaults this recipe takes (its own keys and matrix win), and the ones its model
        does not take."""
        model = MODELS.get(str(self.data.get("model")))
        if model is None:
            return {}, []
        takes = set(recipe_keys(model))
        matrix = self.data.get("matrix") or {}
        wanted = {
            k: v for k, v in self.defaults.values.items() if k not in self.data and k not in matrix
        }
        return {k: v for k, v in wanted.items() if k in takes}, sorted(set(wanted) - takes)


@dataclass(slots=True)
class Job:
    """One request's worth of a recipe: its values after matrix substitution, and their origins
    (values are never changed in place: a job without a matrix shares its recipe's)."""

    recipe: Recipe
    name: str
    values: dict
    origins: Mapping[str, Path] = field(default_factory=dict)
    row: int | None = None  # its row in the recipe's table

    def origin(self, key: str) -> Path:
        """The recipe path a top-level value came from (a matrix entry, or the key itself)."""
        return self.origins.get(key, (key,))

    def location(self, path: Path, key: bool = False) -> Location:
        """Where a recipe path of this job is written: a value a cell gave whole is at the cell."""
        found, row = self.recipe.templates, self.row
        # an image's problem is at its input: at the cell when the cell names the file
        cell = (
            None
            if row is None
            else templates.cell(found, path, row) or templates.cell(found, (*path, "path"), row)
        )
        return self.recipe.location(cell or path, key)

    @property
    def fields(self) -> Mapping[str, object]:
        """Its row's cells (a file's path, name and stem), or none."""
        table = self.recipe.table
        return table.rows[self.row] if table is not None and self.row is not None else {}


NO_ORIGINS: Mapping[str, Path] = MappingProxyType({})


def display_path(path: FsPath) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


NOT_A_FILE = Problem(
    "unreadable",
    "not a regular file: a broken or looping symbolic link, a device, a socket or a pipe",
)


def _walk(folder: FsPath) -> list[tuple[FsPath, bool]]:
    """YAML names below `folder` (sorted), each with whether it is a file (a link followed),
    leaving out hidden files and folders, virtual environments (a folder with `pyvenv.cfg`),
    links to folders (as os.walk does) and the project file. A folder's listing tells its files
    from the rest, without a stat of each (5,000 recipes: a fifth of a warm plan's discovery)."""
    found = []
    folders = [folder]
    while folders:
        here = folders.pop()
        try:
            with os.scandir(here) as listed:
                entries = list(listed)
        except OSError:
            continue  # as os.walk: a folder that cannot be listed holds nothing
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if _is(entry.is_dir):
                venv = os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
                if not entry.is_symlink() and not venv:
                    folders.append(here / name)
            elif os.path.splitext(name)[1] in RECIPE_SUFFIXES and name != PROJECT_FILE:
                found.append((here / name, _is(entry.is_file)))
    # by parts, as Path's own order, without its O(n log n) comparisons in Python
    return sorted(found, key=lambda item: item[0].parts)


def _is(test: Callable[[], bool]) -> bool:
    """A listed name's `is_dir` or `is_file` (a link followed); a name that cannot be told (a
    looping link, say) is neither."""
    try:
        return test()
    except OSError:
        return False


def discover(paths: list[str]) -> tuple[list[FsPath], list[tuple[str, Problem]]]:
    """Every recipe file named, or found below a named directory (sorted there), and the paths
    that cannot be used, each with its problem."""
    files, missing = [], []
    for raw in paths:
        path = FsPath(raw)
        if path.is_dir():
            for found, is_file in _walk(path):
                if is_file:
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


def _resolved(root: FsPath) -> FsPath:
    """The project root, resolved once for all its recipes rather than once each (a relative
    root is resolved every time: it depends on the current folder)."""
    return _resolved_absolute(root) if root.is_absolute() else root.resolve()


@functools.lru_cache(maxsize=8)
def _resolved_absolute(root: FsPath) -> FsPath:
    return root.resolve()


def load(
    path: FsPath, root: FsPath, defaults: Defaults = NO_DEFAULTS
) -> tuple[Recipe | None, list[Problem], Location]:
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
    recipe = Recipe(shown, str(path.resolve()), _resolved(root), located, defaults)
    if not isinstance(located.data, dict):
        kind = YAML_KINDS.get(type(located.data), "a single value")
        return (
            None,
            [Problem("not-a-mapping", f"a recipe is a mapping of keys to values, not {kind}")],
            recipe.location(()),
        )
    for key in SHARED_VALUES:
        if isinstance(located.data.get(key), str):
            located.data[key] = sys.intern(located.data[key])
    problems = recipe_check().problems(located.data)
    if "rows" in located.data or "files" in located.data:
        problems = _data_driven(recipe, problems)
    return recipe, problems + _missing(located.data) + _stem(recipe), recipe.location(())


@functools.cache
def recipe_check() -> SchemaCheck:
    return SchemaCheck("recipe")


def _data_driven(recipe: Recipe, problems: list[Problem]) -> list[Problem]:
    """Read a data-driven recipe's rows and templates; the schema's problems at templated
    values are left to each job, filled."""
    unfilled, _ = templates.find(recipe.data, ())
    problems = [p for p in problems if not templates.covers(unfilled, p.path)]
    if any(p.path[:1] in (("rows",), ("files",), ("key",)) for p in problems) or (
        "rows" in recipe.data and "key" not in recipe.data
    ):
        return problems
    try:
        recipe.table = _table(recipe)
    except TableError as exc:
        at: Path = ("files",) if "files" in recipe.data else ("rows",)
        if exc.line:
            at = (AT, _data_file(recipe), exc.line, exc.column)
        return problems + [Problem(exc.code, exc.message, at)]
    if recipe.key not in recipe.table.columns:
        known = ", ".join(recipe.table.columns)
        message = f"{recipe.table.file} has no column {recipe.key!r}; it has: {known}"
        return problems + [Problem("unknown-column", message, ("key",))]
    found, template_problems = templates.find(recipe.data, recipe.table.columns)
    recipe.templates = MappingProxyType(found)
    matrix = recipe.data.get("matrix") or {}
    unmatched = combos(recipe.data, recipe.table, recipe.key)[1] if "include" in matrix else []
    return problems + template_problems + key_problems(recipe.table, recipe.key) + unmatched


def _data_file(recipe: Recipe) -> str:
    return display_path(recipe.abspath.parent / str(recipe.data["rows"]))


def _table(recipe: Recipe) -> Table:
    folder = recipe.abspath.parent
    if "files" in recipe.data:
        rows = list(file_rows(folder, str(recipe.data["files"]), recipe.root))
        at = recipe.location(("files",))
        return Table(recipe.file, rows, FILE_FIELDS, [0] * len(rows), "files", at=at)
    path = (folder / str(recipe.data["rows"])).resolve()
    if not path.is_relative_to(recipe.root):
        raise TableError(
            "path-outside-root",
            f"{recipe.data['rows']} resolves to {path}, outside the project root {recipe.root}",
        )
    return read_table(path, _data_file(recipe))


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


def _stem(recipe: Recipe) -> list[Problem]:
    """A recipe without `name:` takes its file's stem as its name, held to the same pattern."""
    stem = recipe.abspath.stem
    if "name" in recipe.data or matches(RECIPE_NAME, stem):
        return []
    return [
        Problem(
            "bad-format",
            f"without `name:` the file name gives the job's name, and {stem!r} does not match "
            f"{RECIPE_NAME!r}: rename the file or add `name:`",
        )
    ]


def _shown(value: object) -> object:
    """A matrix value in a job name: a reference as JOB or JOB#K."""
    if isinstance(value, dict):
        image = value.get("image")
        return f"{value.get('from')}" + (f"#{image}" if image is not None else "")
    return value


def _suffix(named: tuple[tuple[str, object], ...]) -> str:
    return "[" + ",".join(f"{k}={_shown(v)}" for k, v in named) + "]"


def _fill_references(values: dict, reference: object) -> dict:
    """The inputs written `from: matrix` take this combination's reference."""
    ref = reference if isinstance(reference, dict) else {"from": reference}
    inputs = [
        {**{k: v for k, v in entry.items() if k != "from"}, **ref}
        if isinstance(entry, dict) and entry.get("from") == MATRIX_REFERENCE
        else entry
        for entry in values.get("inputs") or []
    ]
    return {**values, "inputs": inputs} if "inputs" in values else values


def expand(recipe: Recipe) -> list[Job]:
    """The jobs of a recipe: one, or one per row of its table times each combination of its
    `matrix`, with the project's defaults its model takes under its own keys."""
    defaults, _ = recipe.applied_defaults()
    table = recipe.table
    if not defaults and "matrix" not in recipe.data and table is None:
        # the recipe's own values, not a copy: a run of 20,000 one-job recipes holds each once
        return [Job(recipe, recipe.name, recipe.data, NO_ORIGINS)]
    base = {**defaults, **{k: v for k, v in recipe.data.items() if k != "matrix"}}
    at_defaults: dict[str, Path] = {k: (DEFAULTS, k) for k in defaults}
    if not recipe.data.get("matrix") and table is None:
        return [Job(recipe, recipe.name, base, at_defaults)]
    jobs = []
    for combo in combos(recipe.data, table, recipe.key)[0]:
        values = base
        if table is not None and combo.row is not None:
            values = templates.fill(base, recipe.templates, table.rows[combo.row])
        values = {**values, **{k: v for k, v in combo.values.items() if k != "from"}}
        if "from" in combo.values:
            values = _fill_references(values, combo.values["from"])
        name = recipe.name + (_suffix(combo.named) if combo.named else "")
        jobs.append(Job(recipe, name, values, {**at_defaults, **combo.origins}, combo.row))
    return jobs
