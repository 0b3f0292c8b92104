"""Validation for `validate`, `render` and `run`: files -> recipes -> jobs -> checked requests."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from types import MappingProxyType

from wanform.runner.recipes import graph, templates
from wanform.runner.recipes.build import BuiltRequest, ImageRef, build_request
from wanform.runner.recipes.load import Job, Recipe, discover, expand, load, recipe_check
from wanform.runner.recipes.projectfile import ProjectFile
from wanform.runner.recipes.references import (
    Index,
    Link,
    Reference,
    cycle_problem,
    declared_image,
    index_problem,
    key_of,
    matrix_problems,
    references,
)
from wanform.spec.checks import check_request
from wanform.spec.datauri import decode as decode_data_uri
from wanform.spec.imageprobe import (
    ImageInfo,
    ImageProbeError,
    probe_bytes,
    probe_file,
)
from wanform.spec.models import MODELS, ModelSpec
from wanform.spec.problems import Location, Path, Problem, Report
from wanform.spec.schema import KEY_CODES  # problems about a key, not its value


class ImageFiles:
    """Resolves recipe image entries to header facts, caching files by path, size and mtime.

    Paths are resolved once per recipe and entry: the jobs of a matrix share their inputs.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, int], ImageInfo | ImageProbeError] = {}
        self._paths: dict[tuple[str, str], tuple[FsPath | None, Problem | None]] = {}

    def local_path(self, recipe: Recipe, value: str) -> tuple[FsPath | None, Problem | None]:
        """The file a `path:` names, confined to the project root."""
        key = (recipe.resolved, value)
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


NO_INFOS: Mapping[Path, ImageInfo] = MappingProxyType({})


@dataclass(slots=True)
class CheckedJob:
    """A job, what the checks found (already placed in the recipe), and its request."""

    job: Job
    models: Mapping[str, ModelSpec] = field(repr=False)
    # found, other jobs' outputs it takes, what each image's header says: empty for most jobs,
    # and then shared empties rather than three containers per job
    findings: Sequence[tuple[Location, Problem]] = ()
    links: Sequence[Link] = ()
    infos: Mapping[Path, ImageInfo] = field(default_factory=lambda: NO_INFOS)

    @property
    def request(self) -> BuiltRequest:
        """The job's request, its images as placeholders. Built again on each call (about
        20 us), so that a run of 20,000 validated jobs holds no request bodies: keep the result
        while it is needed."""
        return build_request(self.job, placeholder, models=self.models)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for _, p in self.findings)

    @property
    def key(self) -> str:
        return key_of(self.job)


def placeholder(ref: ImageRef) -> str:
    """What an image is called in a request that will not be sent."""
    return f"file://{ref.value}" if ref.kind == "path" else ref.value


Linked = Callable[[ImageRef], "ImageInfo | ImageProbeError | None"]


def check_job(
    job: Job,
    files: ImageFiles,
    models: Mapping[str, ModelSpec] = MODELS,
    linked: Linked | None = None,
) -> CheckedJob:
    """Build the job's request with placeholder images and run every check of the spec on it;
    `linked` says what another job's output (a `from:` input) will be."""
    filled = _filled_problems(job)
    if filled:  # a cell of the wrong type: no request to build
        return CheckedJob(job, models, findings=[(job.location(p.path), p) for p in filled])
    request = build_request(job, placeholder, models=models)
    by_body_path = {ref.body_path: ref for ref in request.images}
    extra: list[Problem] = list(request.problems)
    infos: dict[Path, ImageInfo] = {}

    def lookup(body_path: Path, ref: str) -> ImageInfo | ImageProbeError | None:
        info = _lookup(body_path)
        if isinstance(info, ImageInfo):
            infos[tuple(body_path)] = info
        return info

    def _lookup(body_path: Path) -> ImageInfo | ImageProbeError | None:
        ref = by_body_path.get(tuple(body_path))
        if ref is None or ref.kind == "url":
            return None  # remote images are checked by the service when it downloads them
        if ref.kind == "from":
            return linked(ref) if linked else None
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
    placed = [(_for_recipe(p), request.recipe_path(p.path)) for p in body_problems] + [
        (p, p.path) for p in extra
    ]
    checked = CheckedJob(job, models, infos=infos or NO_INFOS)
    checked.findings = [(job.location(path), p) for p, path in placed] or ()
    return checked


def _for_recipe(problem: Problem) -> Problem:
    """A request's problem as a recipe's author reads it: the service's message, then what it
    leaves out."""
    if problem.recipe_note is None:
        return problem
    return replace(problem, message=f"{problem.message} {problem.recipe_note}")


def _filled_problems(job: Job) -> list[Problem]:
    """The schema's problems with the values a job's row filled in (the recipe's own values were
    checked when it loaded)."""
    found = job.recipe.templates
    if job.row is None or not found:
        return []
    return [p for p in recipe_check().problems(job.values) if templates.covers(found, p.path)]


@dataclass
class Validation:
    """The outcome of validating some paths: the report, and the checked jobs, valid or not, of
    every recipe that loaded; `context` holds the other recipes' jobs these take outputs from."""

    report: Report
    jobs: list[CheckedJob]
    recipes: int = 0
    invalid: set[str] = field(default_factory=set)
    context: list[CheckedJob] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what `validate -v` adds: defaults not applied


def _n_warning(recipe: Recipe) -> list[Problem]:
    matrix = recipe.data.get("matrix") or {}
    if "n" in recipe.data or "n" in matrix or "n" in recipe.applied_defaults()[0]:
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
    paths: list[str],
    root: str | os.PathLike = ".",
    models: Mapping[str, ModelSpec] = MODELS,
    project: ProjectFile | None = None,
) -> Validation:
    """Validate every recipe under `paths`; image paths are confined to `root`. References
    resolve among every recipe of the project (by default: the recipes/ globs under `root`)."""
    project = project or ProjectFile(FsPath(root))
    files, missing = discover(paths)
    result = Validation(Report(), [])
    for raw, problem in missing:
        result.report.add(Location(raw), [problem])
        result.invalid.add(raw)
    loaded = [_load_reported(path, FsPath(root), project, result) for path in files]
    result.recipes = len(files)
    named = [recipe for recipe, _ in loaded if recipe is not None]
    jobs = {recipe.file: expand(recipe) for recipe in named}
    context = _context(named, jobs, FsPath(root), project)
    checked = _check_all(jobs, context, ImageFiles(), models)
    for recipe, placed in loaded:  # in file order
        for location, problem in placed:
            result.report.add(location, [problem])
        if recipe is not None:
            _report_recipe(recipe, [checked[key_of(job)] for job in jobs[recipe.file]], result)
    named_keys = {key_of(job) for group in jobs.values() for job in group}
    result.context = [c for key, c in sorted(checked.items()) if key not in named_keys]
    return result


def _load_reported(
    path: FsPath, root: FsPath, project: ProjectFile, result: Validation
) -> tuple[Recipe | None, list[tuple[Location, Problem]]]:
    """Load a named recipe: it, or None and its problems placed; its defaults not applied go to
    the notes."""
    recipe, problems, where = load(path, root, project.defaults)
    if recipe is not None and not problems:
        problems = matrix_problems(recipe.data)
    shown = recipe.file if recipe else where.file
    result.report.files.append(shown)
    if recipe is None or problems:
        placed = [
            (recipe.location(p.path, p.code in KEY_CODES) if recipe else where, p) for p in problems
        ]
        result.invalid.add(shown)
        return None, sorted(placed, key=lambda item: (item[0].line, item[0].column))
    for key in recipe.applied_defaults()[1]:
        result.notes.append(
            f"{recipe.file}: default {key} from {recipe.defaults.file} is not applied: "
            f"{recipe.data['model']} does not take it"
        )
    return recipe, []


def _context(
    named: list[Recipe], jobs: dict[str, list[Job]], root: FsPath, project: ProjectFile
) -> list[Job]:
    """The jobs of the project's other recipes, read only when a named job takes an output."""
    if not any(next(references(job), None) for group in jobs.values() for job in group):
        return []
    seen = {recipe.abspath for recipe in named}
    out: list[Job] = []
    for path in project.recipe_files():
        if path.resolve() in seen:
            continue
        recipe, problems, _ = load(path, root, project.defaults)
        if recipe is not None and not problems:
            out += expand(recipe)
    return out


def _check_all(
    jobs: dict[str, list[Job]], context: list[Job], files: ImageFiles, models
) -> dict[str, CheckedJob]:
    """Check the named jobs and every job they take outputs from, upstream first, each reference
    resolved and checked against its upstream's declared output."""
    by_key: dict[str, Job] = {}
    for job in [j for group in jobs.values() for j in group] + context:
        by_key.setdefault(key_of(job), job)
    index = Index(list(by_key))
    resolved = {
        key: [(ref, index.resolve(ref.text)) for ref in references(job)]
        for key, job in by_key.items()
    }
    upstream = {
        key: {up for _, up in refs if isinstance(up, str)} for key, refs in resolved.items()
    }
    needed = graph.closure([key_of(j) for group in jobs.values() for j in group], upstream)
    order, stuck = graph.toposort(needed, upstream)
    on_cycle = {key: cycle for cycle in graph.cycles(stuck, upstream) for key in cycle}
    checked: dict[str, CheckedJob] = {}
    for key in order + stuck:
        checked[key] = _check_linked(by_key[key], resolved[key], checked, on_cycle, files, models)
    return checked


def _check_linked(
    job: Job,
    refs: list[tuple[Reference, str | Problem]],
    checked: dict[str, CheckedJob],
    on_cycle: dict[str, list[str]],
    files: ImageFiles,
    models,
) -> CheckedJob:
    by_input = {ref.input: up for ref, up in refs}

    def linked(image: ImageRef) -> ImageInfo | None:
        up = by_input.get(int(image.recipe_path[1]))
        upstream = checked.get(up) if isinstance(up, str) else None
        if upstream is None or not upstream.ok:
            return None
        return declared_image(upstream.request, upstream.infos)

    result = check_job(job, files, models, linked)
    body_paths = {ref.recipe_path: ref.body_path for ref in result.request.images} if refs else {}
    for ref, up in refs:
        problem = up if isinstance(up, Problem) else None
        if isinstance(up, str):
            link = Link(body_paths.get(("inputs", ref.input), ()), up, ref.image, ref.where)
            result.links = [*result.links, link]
            problem = _link_problem(link, key_of(job), checked.get(up), on_cycle)
        if problem is not None:
            placed = (job.location(ref.where), replace(problem, path=ref.where))
            result.findings = [*result.findings, placed]
    return result


def _link_problem(
    link: Link, key: str, upstream: CheckedJob | None, on_cycle: dict[str, list[str]]
) -> Problem | None:
    if key in on_cycle and link.upstream in on_cycle[key]:
        return cycle_problem(on_cycle[key])
    if upstream is None:
        return Problem("reference-invalid", f"{link.upstream} takes an output from a cycle of jobs")
    if not upstream.ok:
        return Problem(
            "reference-invalid",
            f"{link.upstream} is itself invalid (see {upstream.job.recipe.file})",
        )
    return index_problem(link, upstream.request)


def _report_recipe(recipe: Recipe, jobs: list[CheckedJob], result: Validation) -> None:
    """A recipe's problems, each once for all the jobs of its matrix that have it."""
    shown = recipe.file
    for problem in _n_warning(recipe):
        result.report.add(recipe.location(problem.path), [problem])
    found: dict[tuple, tuple[Location, Problem, list[str]]] = {}
    for checked in jobs:
        result.jobs.append(checked)
        for location, problem in checked.findings:
            key = (location.file, location.line, location.column, problem.code, problem.message)
            found.setdefault(key, (location, problem, []))[2].append(checked.job.name)
        if not checked.ok:
            result.invalid.add(shown)
    if not found:
        return  # and the recipe's locations are not read (that parses it again)
    matrix = recipe.data.get("matrix") or {}
    at_matrix_values = {
        (shown, where.line, where.column)
        for where in (
            recipe.location(("matrix", k, i)) for k in matrix for i in range(len(matrix[k]))
        )
    }
    for key in sorted(found):
        location, problem, names = found[key]
        # only some combinations have it, and the line is not one of their matrix values: say which
        if len(names) < len(jobs) and key[:3] not in at_matrix_values:
            problem = replace(problem, message=f"{problem.message} (in {_some(names)})")
        result.report.add(location, [problem])


def _some(names: list[str], shown: int = 3) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")
