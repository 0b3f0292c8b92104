"""A warm `wanform plan`: each valid recipe's jobs and fingerprints, remembered in
`.wanform/plans.json` with everything they depend on, so a plan in which nothing changed reads the
lock and the files' bytes instead of validating and fingerprinting every job again.

An entry serves only while the recipe's bytes, every local input image (through the hash cache),
the project's defaults, the models table and the code that validates and fingerprints are what
they were. Inputs made upstream are identified afresh from the lock, as the full plan does, and a
chain is served only while every recipe of the project is held (job names resolve among all of
them). The cache answers only a plan in which every job is unchanged; anything else (a recipe it
does not hold, a new or changed job, output drift, failed images) takes the full plan, which
refills it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from wanform.runner.files.areas import STATE_DIR
from wanform.runner.gitops import plancache
from wanform.runner.gitops.fingerprint import Fingerprint, HashCache
from wanform.runner.gitops.links import identity
from wanform.runner.gitops.lockfile import LockFile
from wanform.runner.gitops.plan import (
    NEW,
    UNCHANGED,
    Plan,
    PlannedJob,
    billable,
    judge,
    with_orphans,
)
from wanform.runner.gitops.plancache import PlanEntry, PlanJob, WarningRow
from wanform.runner.recipes import graph
from wanform.runner.recipes.check import CheckedJob, Validation
from wanform.runner.recipes.digest import body_digest, canonical, identified
from wanform.runner.recipes.load import Defaults, Recipe, display_path
from wanform.spec.models import ModelSpec
from wanform.spec.problems import Finding, Location, Problem

PLAN_CACHE = Path(STATE_DIR) / "plans.json"
# what decides whether a recipe is valid and what its fingerprints are
CODE = ("spec", "runner/recipes", "runner/gitops/fingerprint.py")


@functools.cache
def code_digest() -> str:
    """sha256 over the source and schema files that validate recipes and fingerprint jobs."""
    top = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256(f"format {plancache.FORMAT}".encode())
    for name in CODE:
        base = top / name
        files = sorted(base.rglob("*")) if base.is_dir() else [base]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(top).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _plain(value: object) -> object:
    """`value` (the models table) as JSON data in one order in every process: a set's order, and
    so its repr, follows the hash seed, which differs from one process to the next."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(item) for item in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@dataclass
class Warm:
    """A plan served from the cache, and the warnings validation gave its named recipes."""

    plan: Plan
    warnings: list[Finding]


class PlanCache:
    """The project's remembered recipes, keyed by path relative to the root."""

    def __init__(self, root: Path, defaults: Defaults, models: Mapping[str, ModelSpec]) -> None:
        self.root = root.resolve()
        self.path = root / PLAN_CACHE
        self.context = hashlib.sha256(
            canonical(
                [code_digest(), defaults.file, dict(defaults.values), _plain(dict(models))]
            ).encode()
        ).hexdigest()
        self.entries = plancache.read(self.path, self.context)
        # a folder -> its resolved path from the root, and the names of the links in it
        self._folders: dict[str, tuple[str, frozenset[str]]] = {}
        # a local input's name -> its identity, read once per plan (thousands of recipes share
        # a few images)
        self._inputs: dict[str, str] = {}

    def _name(self, path: Path) -> str:
        """The resolved path of a file from the root, with forward slashes; its folder resolved
        and listed once for all the files in it (thousands of recipes), the file itself resolved
        when a link."""
        parent, name = os.path.split(path)
        folder = self._folders.get(parent)
        if folder is None:
            folder = self._folders[parent] = self._folder(parent)
        resolved, links = folder
        if name in links:
            return Path(os.path.relpath(path.resolve(), self.root)).as_posix()
        return name if resolved == "." else f"{resolved}/{name}"

    def _folder(self, parent: str) -> tuple[str, frozenset[str]]:
        """A folder's resolved path from the root, and the names of the links in it: one listing
        rather than a stat of each file (an unreadable folder lists none: its files are not read
        either)."""
        try:
            with os.scandir(parent or ".") as entries:
                links = frozenset(entry.name for entry in entries if entry.is_symlink())
        except OSError:
            links = frozenset()
        resolved = os.path.relpath(Path(parent).resolve(), self.root)
        return Path(resolved).as_posix(), links

    def _held(self, path: Path, hashes: HashCache) -> PlanEntry | None:
        """The entry of a recipe whose bytes and local inputs are as remembered."""
        entry = self.entries.get(self._name(path))
        if entry is None:
            return None
        try:
            with open(path, "rb", buffering=0) as recipe:
                source = "sha256:" + hashlib.sha256(recipe.read()).hexdigest()
            if source != entry["source"]:
                return None
            for name, known in entry["inputs"].items():
                if self._identity(name, hashes) != known:
                    return None
        except OSError:
            return None
        return entry

    def _identity(self, name: str, hashes: HashCache) -> str:
        """The identity of the local input `name` (its path from the root), read once a plan."""
        found = self._inputs.get(name)
        if found is None:
            found = self._inputs[name] = hashes.file(self.root / name)
        return found

    def recall(
        self,
        files: list[Path],
        lock: LockFile,
        hashes: HashCache,
        project_files: Callable[[], list[Path]],
        target: str,
    ) -> Warm | None:
        """The plan of `files` on `target` when every one is held and every job is unchanged,
        else None. `project_files` lists the project's recipes, read only when a job takes
        another's output."""
        looked = [(path, self._held(path, hashes)) for path in files]
        held = [(path, entry) for path, entry in looked if entry is not None]
        if not files or len(held) < len(files):
            return None
        jobs = {job["key"]: job for _, entry in held for job in entry["jobs"]}
        named = list(jobs)
        if any(job.get("links") for job in jobs.values()):
            everyone = [self._held(path, hashes) for path in project_files()]
            if any(entry is None for entry in everyone):
                return None
            jobs = {job["key"]: job for e in everyone if e for job in e["jobs"]} | jobs
        plan = self._judged(named, jobs, lock, hashes, target)
        if plan is None:
            return None
        return Warm(plan, [w for path, entry in held for w in _warnings(path, entry)])

    def _judged(
        self,
        named: list[str],
        jobs: dict[str, PlanJob],
        lock: LockFile,
        hashes: HashCache,
        target: str,
    ) -> Plan | None:
        """Every named job and the jobs they take outputs from, upstream first, when all are
        unchanged."""
        upstream = {
            key: {up for _, up, _ in job["links"]} for key, job in jobs.items() if "links" in job
        }
        order = named  # no job takes another's output: any order is upstream first
        if upstream:
            order, stuck = graph.toposort(graph.closure(named, upstream), upstream)
            if stuck or any(key not in jobs for key in order):
                return None
        root = self.root
        areas = (root,)
        done: dict[str, PlannedJob] = {}
        for key in order:
            job = jobs[key]
            digest = job.get("digest")
            if digest is None:
                linked = {
                    tuple(path): identity(up, image, done, lock, {})
                    for path, up, image in job["links"]
                }
                digest = body_digest(identified(job["body"], linked))
            most, asked = job["images"]
            found = PlannedJob(
                key, NEW, job["model"], most, asked, fingerprint=Fingerprint(digest, {})
            )
            if judge(found, lock, root, hashes, areas, target).status != UNCHANGED:
                return None
            done[key] = found
        return with_orphans(list(done.values()), lock)

    def remember(self, result: Validation, plan: Plan) -> None:
        """Hold every named recipe that validated clean of anything but warnings in its own
        file, with the fingerprints `plan` gave its jobs."""
        recipes: dict[str, tuple[Recipe, list[CheckedJob]]] = {}
        for checked in result.jobs:
            recipe = checked.job.recipe
            recipes.setdefault(recipe.resolved, (recipe, []))[1].append(checked)
        shown = {recipe.file for recipe, _ in recipes.values()}
        if any(f.location.file not in shown for f in result.report.findings):
            return  # a finding placed elsewhere (a default's line) cannot be told to one recipe
        planned = {job.key: job for job in plan.jobs}
        warnings: dict[str, list[WarningRow]] = {}
        for f in result.report.warnings():
            row = (f.location.line, f.location.column, f.problem.code, f.problem.message)
            warnings.setdefault(f.location.file, []).append(row)
        for recipe, jobs in recipes.values():
            found = warnings.get(recipe.file, [])
            entry = _entry(recipe, jobs, planned, result, self._name, found)
            if entry is not None:
                self.entries[self._name(recipe.abspath)] = entry
        self.entries = {
            name: entry for name, entry in self.entries.items() if (self.root / name).is_file()
        }
        plancache.write(self.path, self.context, self.entries)


def _entry(
    recipe: Recipe,
    jobs: list[CheckedJob],
    planned: Mapping[str, PlannedJob],
    result: Validation,
    name: Callable[[Path], str],
    warnings: list[WarningRow],
) -> PlanEntry | None:
    if recipe.file in result.invalid or not recipe.located.source or "files" in recipe.data:
        return None  # the files a glob matches are not remembered: a new one is a new job
    files: dict[str, str] = {}  # `path:` value -> the file's identity
    rows: list[PlanJob] = []
    for checked in jobs:
        job = planned.get(checked.key)
        if job is None or job.fingerprint is None:
            return None
        images = job.fingerprint.images
        linked = {link.body_path for link in checked.links}
        request = checked.request
        for ref in request.images:
            if ref.kind == "path" and ref.body_path not in linked:
                files[ref.value] = images[ref.body_path]
        row: PlanJob = {"key": checked.key, "model": request.spec.name, "images": billable(request)}
        if checked.links:
            local = {path: value for path, value in images.items() if path not in linked}
            row["body"] = identified(request.body, local)
            row["links"] = [(list(ln.body_path), ln.upstream, ln.image) for ln in checked.links]
        else:
            row["digest"] = job.fingerprint.digest
        rows.append(row)
    folder = recipe.abspath.parent
    inputs = {name(folder / value): identity for value, identity in files.items()}
    if recipe.table is not None and recipe.table.path is not None:
        inputs[name(recipe.table.path)] = recipe.table.source
    return {"source": recipe.located.source, "inputs": inputs, "warnings": warnings, "jobs": rows}


def _warnings(path: Path, entry: PlanEntry) -> list[Finding]:
    if not entry["warnings"]:
        return []
    shown = display_path(path)
    return [
        Finding(Location(shown, line, column), Problem(code, message, severity="warning"))
        for line, column, code, message in entry["warnings"]
    ]
