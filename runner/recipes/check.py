"""Validation for `validate`, `render` and `run`: files -> recipes -> jobs -> checked requests."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath

from runner.recipes.build import BuiltRequest, ImageRef, build_request
from runner.recipes.load import Job, Recipe, discover, expand, load
from spec.checks import check_request
from spec.datauri import decode as decode_data_uri
from spec.imageprobe import (
    ImageInfo,
    ImageProbeError,
    probe_bytes,
    probe_file,
)
from spec.models import MODELS, ModelSpec
from spec.problems import Location, Path, Problem, Report
from spec.schema import KEY_CODES  # problems about a key, not its value


class ImageFiles:
    """Resolves recipe image entries to header facts, caching files by path, size and mtime.

    Paths are resolved once per recipe and entry: the jobs of a matrix share their inputs.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, int], ImageInfo | ImageProbeError] = {}
        self._paths: dict[tuple[FsPath, str], tuple[FsPath | None, Problem | None]] = {}

    def local_path(self, recipe: Recipe, value: str) -> tuple[FsPath | None, Problem | None]:
        """The file a `path:` names, confined to the project root."""
        key = (recipe.abspath, value)
        if key not in self._paths:
            self._paths[key] = self._resolve(recipe, value)
        return self._paths[key]

    @staticmethod
    def _resolve(recipe: Recipe, value: str) -> tuple[FsPath | None, Problem | None]:
        try:
            candidate = (recipe.abspath.parent / value).resolve()
            if not candidate.is_relative_to(recipe.root):
                return None, Problem(
                    "path-outside-root",
                    f"{value} resolves to {candidate}, outside the project root "
                    f"{recipe.root}; recipes may only read files inside it",
                )
            if candidate.is_dir():
                return None, Problem(
                    "input-not-found", f"{value} is a directory, not an image file"
                )
            if not candidate.is_file():
                return None, Problem(
                    "input-not-found", f"{value} does not exist (looked for {candidate})"
                )
        # a NUL byte, a name too long for the file system; a symlink loop (RuntimeError before 3.13)
        except (OSError, ValueError, RuntimeError) as exc:
            return None, Problem("input-not-found", f"{value!r} cannot be a file name here: {exc}")
        return candidate, None

    def probe(self, path: FsPath) -> ImageInfo | ImageProbeError:
        try:
            stat = path.stat()
            key = (str(path), stat.st_size, stat.st_mtime_ns)
            if key not in self._cache:
                self._cache[key] = probe_file(path)
        except ImageProbeError as exc:
            return exc
        except OSError as exc:
            return ImageProbeError(f"cannot read it: {exc.strerror or exc}")
        return self._cache[key]


def _probe_data(value: str) -> tuple[ImageInfo | ImageProbeError | None, Problem | None]:
    try:
        _mime, data = decode_data_uri(value)
    except ValueError as exc:
        return None, Problem("image-data-uri", str(exc))
    try:
        return probe_bytes(data), None  # spec.checks compares the MIME type with the bytes
    except ImageProbeError as exc:
        return exc, None


@dataclass
class CheckedJob:
    """A job, its request, and what the checks found, already placed in the recipe."""

    job: Job
    request: BuiltRequest
    findings: list[tuple[Location, Problem]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for _, p in self.findings)


def placeholder(ref: ImageRef) -> str:
    """What an image is called in a request that will not be sent."""
    return f"file://{ref.value}" if ref.kind == "path" else ref.value


def check_job(job: Job, files: ImageFiles, models: Mapping[str, ModelSpec] = MODELS) -> CheckedJob:
    """Build the job's request with placeholder images and run every check of the spec on it."""
    request = build_request(job, placeholder, models=models)
    by_body_path = {ref.body_path: ref for ref in request.images}
    extra: list[Problem] = list(request.problems)

    def lookup(body_path: Path, _ref: str) -> ImageInfo | ImageProbeError | None:
        ref = by_body_path.get(tuple(body_path))
        if ref is None or ref.kind == "url":
            return None  # remote images are checked by the service when it downloads them
        if ref.kind == "data":
            info, problem = _probe_data(ref.value)
        else:
            local, problem = files.local_path(job.recipe, ref.value)
            info = files.probe(local) if local else None
        if problem:
            extra.append(Problem(problem.code, problem.message, ref.recipe_path + (ref.kind,)))
        return info

    # a request the builder could not complete (no base image, an input without a source) is
    # not checked further
    body_problems = (
        [] if request.problems else check_request(request.body, models=models, images=lookup)
    )
    placed = [(p, request.recipe_path(p.path)) for p in body_problems] + [
        (p, p.path) for p in extra
    ]
    checked = CheckedJob(job, request)
    checked.findings = [(job.recipe.location(path), p) for p, path in placed]
    return checked


@dataclass
class Validation:
    """The outcome of validating some paths: the report, and the checked jobs, valid or not, of
    every recipe that loaded."""

    report: Report
    jobs: list[CheckedJob]
    recipes: int = 0
    invalid: set[str] = field(default_factory=set)


def _n_warning(recipe: Recipe) -> list[Problem]:
    if "n" in recipe.data or "n" in (recipe.data.get("matrix") or {}):
        return []
    return [
        Problem(
            "n-omitted",
            "n is not set; wanform sends n: 1 (the service's own default is up to 4 images, "
            "each billed)",
            ("model",),
            severity="warning",
        )
    ]


def validate_paths(
    paths: list[str], root: str | os.PathLike = ".", models: Mapping[str, ModelSpec] = MODELS
) -> Validation:
    """Validate every recipe under `paths`; image paths are confined to `root`."""
    files, missing = discover(paths)
    result = Validation(Report(), [])
    for raw, problem in missing:
        result.report.add(Location(raw), [problem])
        result.invalid.add(raw)
    images = ImageFiles()
    for path in files:
        result.recipes += 1
        _validate_file(path, FsPath(root), images, models, result)
    return result


def _validate_file(
    path: FsPath, root: FsPath, images: ImageFiles, models, result: Validation
) -> None:
    recipe, problems, where = load(path, root)
    shown = recipe.file if recipe else where.file
    result.report.files.append(shown)
    if recipe is None or problems:
        placed = [
            (recipe.location(p.path, p.code in KEY_CODES) if recipe else where, p) for p in problems
        ]
        for location, problem in sorted(placed, key=lambda item: (item[0].line, item[0].column)):
            result.report.add(location, [problem])
        result.invalid.add(shown)
        return
    for problem in _n_warning(recipe):
        result.report.add(recipe.location(problem.path), [problem])
    found: dict[tuple, tuple[Location, Problem, list[str]]] = {}
    jobs = expand(recipe)
    for job in jobs:
        checked = check_job(job, images, models)
        result.jobs.append(checked)
        for (
            location,
            problem,
        ) in checked.findings:  # a matrix repeats a job's problems: report each once
            key = (location.line, location.column, problem.code, problem.message)
            found.setdefault(key, (location, problem, []))[2].append(job.name)
        if not checked.ok:
            result.invalid.add(shown)
    matrix = recipe.data.get("matrix") or {}
    at_matrix_values = {
        (where.line, where.column)
        for where in (
            recipe.location(("matrix", k, i)) for k in matrix for i in range(len(matrix[k]))
        )
    }
    for key in sorted(found):
        location, problem, names = found[key]
        # only some combinations have it, and the line is not one of their matrix values: say which
        if len(names) < len(jobs) and key[:2] not in at_matrix_values:
            problem = replace(problem, message=f"{problem.message} (in {_some(names)})")
        result.report.add(location, [problem])


def _some(names: list[str], shown: int = 3) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")
