"""The plan step of `wanform plan`: the recipes validated, then compared with the lock."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from wanform.runner.app import validating
from wanform.runner.app.errors import LockError, StartError
from wanform.runner.app.results import PlanResult
from wanform.runner.gitops.fingerprint import HashCache
from wanform.runner.gitops.links import plan_chained
from wanform.runner.gitops.lockfile import LockFile, LockFileError
from wanform.runner.gitops.plan import look_up_outputs
from wanform.runner.gitops.warmplan import PlanCache
from wanform.runner.recipes.load import discover
from wanform.runner.recipes.projectfile import ProjectFile
from wanform.runner.storage.errors import StoreError
from wanform.spec.models import ModelSpec

if TYPE_CHECKING:
    from wanform.runner.storage.s3 import Store


def load_lock(path: Path) -> LockFile:
    """The lock, or LockError with the reason it cannot be read."""
    try:
        return LockFile.load(path)
    except LockFileError as exc:
        raise LockError(str(exc)) from None


def build_plan(
    paths: tuple[str, ...],
    project: ProjectFile,
    lock_path: Path,
    models: Mapping[str, ModelSpec],
    target: str,
    store: Store | None = None,
) -> PlanResult:
    """Validate, then compare with the lock (with the jobs they take outputs from) for a run on
    `target` (`Target.made_on`); InvalidRecipes if a recipe is invalid. A plan in which nothing
    changed is served from the plan cache (wanform.runner.gitops.warmplan). Outputs in `store`
    are looked up first, all at once, by HEAD requests."""
    try:
        return _planned(paths, project, lock_path, models, target, store)
    finally:
        gc.unfreeze()  # after the lock and the caches are freed, so no collection walks them


def _planned(
    paths: tuple[str, ...],
    project: ProjectFile,
    lock_path: Path,
    models: Mapping[str, ModelSpec],
    target: str,
    store: Store | None,
) -> PlanResult:
    """`build_plan`'s work: what it makes is freed as it returns, before the unfreeze."""
    with _trees_only():
        lock = load_lock(lock_path)
    hashes = HashCache(project.root)
    if store is not None:
        try:
            look_up_outputs(lock, hashes, store)
        except StoreError as exc:
            raise StartError(exc.line()) from None
    with _trees_only():
        cache = PlanCache(project.root, project.defaults, models)
        files, missing = discover(validating.targets(paths, project))
        warm = None if missing else cache.recall(files, lock, hashes, project.recipe_files, target)
    if warm is not None:
        hashes.save()
        return PlanResult(warm.plan, warm.warnings)
    result = validating.valid(paths, project, models).validation
    _settle()
    plan = plan_chained(result.jobs + result.context, lock, project.root, hashes, target=target)
    cache.remember(result, plan)
    hashes.save()
    return PlanResult(plan, result.report.warnings())


def _settle() -> None:
    """Keep the cyclic garbage collector off what the plan has made so far. The lock, the plan
    cache and the validated jobs are trees (no cycles to free) kept until the plan ends, and
    every full collection walked them all again: an eighth of a warm plan's CPU at 20,000 jobs.
    `build_plan` unfreezes them as it returns, so nothing stays out of the collector's reach; a
    freeze or unfreeze by another thread meanwhile costs only time."""
    gc.freeze()


@contextlib.contextmanager
def _trees_only() -> Iterator[None]:
    """The collector off while the plan makes only trees, and what they made settled before it
    is back: JSON documents (the lock, the plan cache) and a warm plan's jobs hold no cycles, so
    collections there freed nothing and cost a tenth of a warm plan's CPU at 20,000 jobs.
    Validating (YAML) and store lookups (an event loop) run with it on. It is turned back on
    only if it was on as the block began."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        _settle()
        if enabled:
            gc.enable()
