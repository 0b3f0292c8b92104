"""Chains in the plan: what identifies an input made by another job, and why a job changed.

An input `from: JOB` is identified by the sha256 of JOB's output file when that file is the one
JOB's current request made (JOB unchanged, or made in this run), else by JOB's fingerprint and the
image's index: a change upstream shows downstream as `~ changed (upstream: JOB)` and an unchanged
chain stays unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from wanform.runner.engine.states import REFETCH, rerun_kind
from wanform.runner.gitops.fingerprint import HashCache, fingerprint
from wanform.runner.gitops.lockfile import LockEntry, LockFile
from wanform.runner.gitops.plan import (
    CHANGED,
    INCOMPLETE,
    PARTIAL,
    UNCHANGED,
    Links,
    Plan,
    PlannedJob,
    make_plan,
)
from wanform.runner.recipes import graph
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.recipes.load import DEFAULTS
from wanform.spec.problems import Path as BodyPath
from wanform.spec.problems import json_path

Made = Mapping[str, Mapping[int, str]]  # job key -> image index -> "sha256:..." of its file
INDEXED_NAME = re.compile(r"-([0-9]+)\.[A-Za-z]+$")


def output_index(output: object) -> int | None:
    """The image index of one output a lock entry records; entries written before the lock kept
    it have it in the file name (`<job>-<i>.png`)."""
    if not isinstance(output, dict):
        return None
    if isinstance(output.get("index"), int):
        return output["index"]
    found = INDEXED_NAME.search(str(output.get("path", "")))
    return int(found[1]) if found else None


def recorded_outputs(entry: LockEntry, field: Literal["path", "sha256"]) -> dict[int, str]:
    """One field (`path` or `sha256`) of the lock entry's outputs, by image index."""
    out = {}
    for output in entry.get("outputs", []):
        index = output_index(output)
        value = output.get(field)
        if index is not None and value:
            out[index] = value
    return out


def identity(
    upstream_key: str, image: int, done: Mapping[str, PlannedJob], lock: LockFile, made: Made
) -> str:
    """What identifies image `image` of `upstream_key` for its dependants."""
    if image in made.get(upstream_key, {}):
        return made[upstream_key][image]
    upstream = done.get(upstream_key)
    if upstream is None or upstream.fingerprint is None:
        return f"job:{upstream_key}#{image}"
    entry = lock.jobs.get(upstream_key, {})
    if _keeps_its_files(upstream, entry):
        recorded = recorded_outputs(entry, "sha256")
        if image in recorded:
            return recorded[image]
    return f"{upstream.fingerprint.digest}#{image}"


def _keeps_its_files(upstream: PlannedJob, entry: LockEntry) -> bool:
    """Whether the upstream's recorded files stay as they are through the next run: it is
    unchanged, partial (not rerun), or incomplete with only images to fetch again from its task
    (a resubmitted one makes new images)."""
    if upstream.status in (UNCHANGED, PARTIAL):
        return True
    return upstream.status == INCOMPLETE and rerun_kind(entry.get("failures", [])) == REFETCH


def linker(lock: LockFile, made: Made | None = None) -> Links:
    """The `links` callback of `make_plan` for this lock (and the images a run just made)."""

    def links(checked: CheckedJob, done: Mapping[str, PlannedJob]) -> Mapping[BodyPath, str]:
        return {
            link.body_path: identity(link.upstream, link.image, done, lock, made or {})
            for link in checked.links
        }

    return links


def upstream_first(jobs: list[CheckedJob]) -> list[CheckedJob]:
    """The jobs ordered so that every job comes after the jobs it takes outputs from."""
    by_key: dict[str, list[CheckedJob]] = {}
    for checked in jobs:
        by_key.setdefault(checked.key, []).append(checked)
    upstream = {c.key: {link.upstream for link in c.links} for c in jobs}
    order, stuck = graph.toposort(by_key, upstream)
    return [checked for key in order + stuck for checked in by_key[key]]


def _reasons(job: PlannedJob) -> list[str]:
    """The changed fields, an input made upstream said as `upstream: JOB`, a default's origin."""
    assert job.checked is not None
    places = {ref.body_path: ref.recipe_path for ref in job.checked.request.images}
    upstream = {
        json_path((*places[link.body_path], "image")): link.upstream
        for link in job.checked.links
        if link.body_path in places
    }
    out = []
    for reason in job.reasons:
        top = reason.split(".")[0].split("[")[0]
        if reason in upstream:
            out.append(f"upstream: {upstream[reason]}")
        elif job.checked.job.origin(top)[:1] == (DEFAULTS,):
            out.append(f"{reason} (default in {job.checked.job.recipe.defaults.file})")
        else:
            out.append(reason)
    return list(dict.fromkeys(out))


def plan_chained(
    jobs: list[CheckedJob],
    lock: LockFile,
    root: Path,
    hashes: HashCache,
    *,
    target: str,
    areas: tuple[Path, ...] = (),
) -> Plan:
    """`make_plan` upstream first, with inputs made by other jobs identified as above."""
    plan = make_plan(
        upstream_first(jobs), lock, root, hashes, target=target, areas=areas, links=linker(lock)
    )
    for job in plan.jobs:
        if job.status == CHANGED and job.checked is not None:
            job.reasons = _reasons(job)
    return plan


def relinked(
    jobs: list[PlannedJob], plan: Plan, lock: LockFile, made: Made, hashes: HashCache
) -> None:
    """After a run: the fingerprints of `jobs` again, their inputs made upstream now known by the
    files this run (or an earlier one) made, so the lock records what the next plan computes."""
    done = {j.key: j for j in plan.jobs}
    links = linker(lock, made)
    for job in jobs:
        if job.checked is not None and job.checked.links:
            job.fingerprint = fingerprint(job.checked.request, hashes, links(job.checked, done))
