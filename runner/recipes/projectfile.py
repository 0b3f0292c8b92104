"""The project: the folder holding `wanform.yaml`, and what that file says every recipe shares.

The project is found by walking up from the current folder; `--root` names it instead. Without a
project file the root is `--root` (default: the current folder) and everything is as before. The
file never names a URL (its schema accepts no such key): a repository must not be able to send the
API key anywhere. Command-line options win over the environment, which wins over the file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from pathlib import Path

from wanform.runner.recipes.load import NO_DEFAULTS, PROJECT_FILE, Defaults, display_path
from wanform.spec.problems import Location, Problem, json_path
from wanform.spec.schema import SchemaCheck
from wanform.spec.schemagen import project_schema
from wanform.spec.yamlloc import YamlError, load_file

DEFAULT_GLOBS = ("recipes/**/*.yaml",)


@dataclass
class ProjectFile:
    """A project's root and settings; `problems` holds located errors of its `wanform.yaml`."""

    root: Path
    path: Path | None = None  # the project file, when there is one
    globs: tuple[str, ...] = DEFAULT_GLOBS
    defaults: Defaults = NO_DEFAULTS
    out: str | None = None
    max_images: int | None = None
    max_cost: float | None = None
    target: str | None = None
    region: str | None = None
    storage: dict[str, str] = field(
        default_factory=dict
    )  # an s3:// out's endpoint, region, addressing
    problems: list[tuple[Location, Problem]] = field(default_factory=list)

    def recipe_files(self) -> list[Path]:
        """The files the `recipes:` globs name, sorted, without duplicates."""
        found: set[Path] = set()
        for pattern in self.globs:
            found.update(p for p in self.root.glob(pattern) if p.is_file())
        return sorted(found)

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """`env` with the project's region where the environment names none."""
        if self.region and "DASHSCOPE_API_REGION" not in env:
            return {**env, "DASHSCOPE_API_REGION": self.region}
        return env


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` that holds a project file."""
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return None


@functools.cache
def _check() -> SchemaCheck:
    return SchemaCheck("project")


def read(root: Path) -> ProjectFile:
    """The project at `root`: its `wanform.yaml` read and checked, or the defaults when it has
    none."""
    path = root / PROJECT_FILE
    project = ProjectFile(root)
    if not path.is_file():
        return project
    project.path = path
    shown = display_path(path)
    try:
        located = load_file(str(path))
    except YamlError as exc:
        mark = exc.mark
        where = Location(shown, mark.line if mark else 0, mark.column if mark else 0)
        project.problems.append((where, Problem(exc.code, exc.message)))
        return project
    data = located.data if located.data is not None else {}
    problems = (
        _check().problems(data)
        if isinstance(data, dict)
        else [Problem("not-a-mapping", "wanform.yaml is a mapping of keys to values")]
    )
    for problem in map(_explained, problems):
        mark = located.mark(problem.path, problem.code in ("unknown-key", "param-not-accepted"))
        project.problems.append((Location(shown, mark.line, mark.column), problem))
    project.problems.sort(key=lambda item: (item[0].line, item[0].column))
    if problems or not isinstance(data, dict):
        return project
    project.globs = tuple(data.get("recipes") or DEFAULT_GLOBS)
    project.defaults = Defaults(data.get("defaults") or {}, shown, located)
    project.out = data.get("out")
    project.max_images = data.get("max_images")
    project.max_cost = data.get("max_cost")
    project.target = data.get("target")
    project.region = data.get("region")
    project.storage = data.get("storage") or {}
    return project


def _explained(problem: Problem) -> Problem:
    """Say why a path or a key is refused, where the schema's own words would not."""
    if problem.code == "bad-format":
        message = (
            f"{json_path(problem.path)} must be a path inside the project (relative, no .., no :)"
        )
        return replace(problem, message=message)
    if problem.code == "unknown-key" and len(problem.path) == 1:
        message = (
            f"{problem.message}; wanform.yaml takes "
            f"{', '.join(project_schema()['properties'])}, and never a URL "
            "(a base URL comes only from --target or DASHSCOPE_HTTP_BASE_URL)"
        )
        return replace(problem, message=message)
    return problem


def open_project(root: str | None, cwd: Path | None = None) -> ProjectFile:
    """The project `--root` names, else the one found walking up from `cwd`, else `cwd`."""
    here = cwd or Path.cwd()
    if root is not None:
        return read(Path(root))
    found = find_root(here)
    return read(found if found is not None else Path("."))
