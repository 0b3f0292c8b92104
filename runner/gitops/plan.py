"""`wanform plan`: compare recipes with the lock file and the files on disk, and say what a run
would do."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING

from wanform.runner.api.answers import FailureRecord
from wanform.runner.api.targets import DASHSCOPE
from wanform.runner.engine.states import REFETCH, RESUBMIT, rerun_kind
from wanform.runner.files.areas import within
from wanform.runner.gitops.fingerprint import ROW_FIELD, Fingerprint, HashCache, fingerprint
from wanform.runner.gitops.lockfile import (
    LockEntry,
    LockFile,
    LockOutput,
    job_key,
)
from wanform.runner.recipes.build import BuiltRequest
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.storage.location import is_stored

if TYPE_CHECKING:
    from wanform.runner.storage.s3 import Store
from wanform.spec.checks import request_mode
from wanform.spec.models import MODELS
from wanform.spec.problems import Path as BodyPath

NEW, CHANGED, UNCHANGED, ORPHANED = "new", "changed", "unchanged", "orphaned"
# A job whose images did not all come: a rerun finishes it (pending), or it would only fail and
# bill again (content refusals), so only --force reruns it.
INCOMPLETE, PARTIAL = "incomplete", "partial"


@dataclass(slots=True)
class PlannedJob:
    """One job's verdict, why, and what running it would bill: `images` at most, whatever the
    service decides where the documents say "up to" or disagree; `expected` as the table's guesses
    and the journal lead to expect."""

    key: str
    status: str
    model: str
    images: int = 0
    expected: int = 0
    reasons: list[str] = field(default_factory=list)
    checked: CheckedJob | None = None
    fingerprint: Fingerprint | None = None

    @property
    def pending(self) -> bool:
        return self.status in (NEW, CHANGED, INCOMPLETE)

    @property
    def cost(self) -> float:
        return self.images * MODELS[self.model].price_cny if self.model in MODELS else 0.0

    @property
    def expected_cost(self) -> float:
        return self.expected * MODELS[self.model].price_cny if self.model in MODELS else 0.0


@dataclass(repr=False)
class Plan:
    """Every job of the recipes and of the lock, each with its verdict.

    Its repr is a line, not every job: Python 3.11's asyncio.run builds the repr of its main
    task's result (a run's outcome holds its plan) as it restores the SIGINT handler, and at
    10,000 jobs that was a run's peak memory.
    """

    jobs: list[PlannedJob]

    def __repr__(self) -> str:
        return f"<Plan: {len(self.jobs)} jobs, {len(self.pending())} pending>"

    def pending(self) -> list[PlannedJob]:
        return [j for j in self.jobs if j.pending]

    def orphaned(self) -> list[PlannedJob]:
        return [j for j in self.jobs if j.status == ORPHANED]

    def totals(self) -> dict[str, dict[str, float]]:
        """Billable images and estimated cost of the pending jobs, per model: at most, and
        expected."""
        out: dict[str, dict[str, float]] = {}
        for job in self.pending():
            row = out.setdefault(
                job.model,
                {"images": 0, "cost_cny": 0.0, "expected_images": 0, "expected_cost_cny": 0.0},
            )
            row["images"] += job.images
            row["cost_cny"] = round(row["cost_cny"] + job.cost, 6)
            row["expected_images"] += job.expected
            row["expected_cost_cny"] = round(row["expected_cost_cny"] + job.expected_cost, 6)
        return dict(sorted(out.items()))


# A job's inputs made by other jobs: (the job, the jobs judged so far by key) -> identities.
Links = Callable[[CheckedJob, Mapping[str, PlannedJob]], Mapping[BodyPath, str]]


def recipe_key(checked: CheckedJob, root: Path) -> str:
    """The job's key in the lock: recipe path relative to `root` (resolved), with forward slashes,
    and job name."""
    if checked.job.recipe.root == root:
        return checked.key  # the recipe's own project root: its path from there is known
    relative = os.path.relpath(checked.job.recipe.resolved, root)
    return job_key(Path(relative).as_posix(), checked.job.name)


def changed_fields(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    """The names of the fields whose values differ, in order."""
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def _output_drift(
    entry: LockEntry, root: Path, hashes: HashCache, areas: tuple[Path, ...]
) -> list[str]:
    """Outputs the lock records that are gone or no longer the bytes that were made; a path
    outside `areas` is reported, never read."""
    drift = []
    for output in entry.get("outputs", []):
        path = root / output["path"]
        if is_stored(output["path"]):
            drift += _object_drift(output, hashes.stored)
        elif not within(path, areas):
            drift.append(f"output outside the project and the output folder: {output['path']}")
        elif not path.is_file():
            drift.append(f"output missing: {output['path']}")
        elif hashes.file(path) != output.get("sha256"):
            drift.append(f"output modified: {output['path']}")
    return drift


def _object_drift(output: LockOutput, stored: Mapping[str, str | None]) -> list[str]:
    """An output in a store that is gone or no longer what was made, by its metadata's digest."""
    uri = output["path"]
    if uri not in stored:
        return [f"output not in the output store: {uri}"]
    if stored[uri] is None:
        return [f"output missing: {uri}"]
    if stored[uri] != output.get("sha256"):
        return [f"output modified: {uri}"]
    return []


def _verdict(
    checked: CheckedJob,
    key: str,
    lock: LockFile,
    root: Path,
    hashes: HashCache,
    areas: tuple[Path, ...],
    target: str,
    linked: Mapping[BodyPath, str] | None = None,
) -> PlannedJob:
    request = checked.request
    found = fingerprint(request, hashes, linked)
    job = PlannedJob(
        key, NEW, request.spec.name, *billable(request), checked=checked, fingerprint=found
    )
    return judge(job, lock, root, hashes, areas, target)


def billable(request: BuiltRequest) -> tuple[int, int]:
    """The images a request can bill at most (every count rule at its maximum), and as asked."""
    parameters = request.body["parameters"]
    mode = request_mode(request.spec, request.body)
    return mode.images_at_most(parameters), mode.images_asked(parameters)


def judge(
    job: PlannedJob,
    lock: LockFile,
    root: Path,
    hashes: HashCache,
    areas: tuple[Path, ...],
    target: str,
) -> PlannedJob:
    """Set the verdict of a fingerprinted job (new until judged) against its lock entry; the
    target it would run on (`Target.made_on`) is part of its identity."""
    assert job.fingerprint is not None
    entry = lock.jobs.get(job.key)
    if entry is None:
        return job
    moved = _moved(entry.get("target"), target)
    if entry.get("fingerprint") != job.fingerprint.digest:
        job.status = CHANGED
        fields = changed_fields(entry.get("fields", {}), job.fingerprint.fields)
        # a changed cell says why the fields it fills changed
        fields = [f for f in fields if f.startswith(ROW_FIELD)] or fields
        job.reasons = fields + moved if fields or moved else ["request"]
        return job
    job.reasons = moved + _output_drift(entry, root, hashes, areas)
    job.status = CHANGED if job.reasons else UNCHANGED
    failures = entry.get("failures", [])
    if job.status == UNCHANGED and failures:
        _unfinished(job, entry, failures)
    return job


def _moved(recorded: object, target: str) -> list[str]:
    """`target: OLD -> NEW` when the entry was made on another target. An entry written before
    the lock recorded DashScope's region (`dashscope`) was made on the region a run uses."""
    legacy = recorded == DASHSCOPE and target.startswith(f"{DASHSCOPE}:")
    return [] if recorded == target or legacy else [f"target: {recorded or 'unknown'} -> {target}"]


def _unfinished(job: PlannedJob, entry: LockEntry, failures: list[FailureRecord]) -> None:
    """A job the lock records with failed images: incomplete when a rerun can finish it (submit
    it again, billed; or fetch its task's images again, not billed), else partial."""
    then = rerun_kind(failures)
    job.reasons = [f"image {f['index']} failed: {f['code']}" for f in failures]
    if then == RESUBMIT:
        job.status = INCOMPLETE
        job.reasons.append("a rerun submits the whole request again")
    elif then == REFETCH:  # at most: without the journal it is submitted again
        job.status, job.expected = INCOMPLETE, 0
        task = entry.get("task_id")
        job.reasons.append(
            f"a rerun fetches them again from task {task}, not billed again while the journal "
            "holds it"
            if task
            else "a rerun submits it again (a sync call leaves no task to fetch from)"
        )
    else:
        job.status, job.images, job.expected = PARTIAL, 0, 0
        job.reasons.append("not rerun: it would fail and bill again; --force reruns it")


def look_up_outputs(lock: LockFile, hashes: HashCache, store: Store) -> None:
    """The digests of the lock's outputs in `store`, for the plan: one listing of the prefix, and
    a HEAD request (in parallel) for each object whose ETag differs from the one recorded."""
    outputs = [
        o
        for entry in lock.jobs.values()
        for o in entry.get("outputs", [])
        if store.location.key_of(o["path"]) is not None
    ]
    recorded = {
        o["path"]: [o["etag"], o["sha256"]] for o in outputs if "etag" in o and "sha256" in o
    }
    uris = [o["path"] for o in outputs]
    from wanform.runner.storage.s3 import wait_for  # here: a plan without a store needs no loop

    hashes.stored.update(wait_for(lambda: store.digests(uris, recorded)))


def make_plan(
    jobs: list[CheckedJob],
    lock: LockFile,
    root: Path,
    hashes: HashCache,
    *,
    target: str,
    areas: tuple[Path, ...] = (),
    links: Links | None = None,
) -> Plan:
    """Verdicts for every valid job run on `target` (`Target.made_on`), plus the lock's entries
    that no recipe declares any more; outputs are read only inside `areas` (default: the root).
    Jobs are judged in the order given (upstream first), and `links` gives each the identities of
    its inputs made by jobs judged before it."""
    areas = areas or (root,)
    base = root.resolve()
    planned: list[PlannedJob] = []
    done: dict[str, PlannedJob] = {}
    for checked in jobs:
        key = recipe_key(checked, base)
        linked = links(checked, done) if links else None
        planned.append(_verdict(checked, key, lock, root, hashes, areas, target, linked))
        done.setdefault(key, planned[-1])
    return with_orphans(planned, lock)


def with_orphans(planned: list[PlannedJob], lock: LockFile) -> Plan:
    """The plan of these jobs, sorted, then the lock's entries that none of them is."""
    declared = {job.key for job in planned}
    orphans = [
        PlannedJob(key, ORPHANED, lock.jobs[key].get("model", ""))
        for key in sorted(lock.jobs.keys() - declared)
    ]
    return Plan(sorted(planned, key=attrgetter("key")) + orphans)


def lock_entry(
    job: PlannedJob,
    *,
    target: str,
    task_id: str | None,
    request_id: str | None,
    finished: str | None,
    outputs: list[LockOutput],
    failures: list[FailureRecord],
    sidecar: str | None = None,
    sidecar_sha256: str | None = None,
    state: str = "complete",
) -> LockEntry:
    """What the lock records for a job that ran: its identity, its fingerprint, and what it made."""
    assert job.checked is not None and job.fingerprint is not None
    parameters = job.checked.request.body["parameters"]
    recipe, _, name = job.key.partition("::")
    return {
        "recipe": recipe,
        "job": name,
        "model": job.model,
        "n": parameters["n"],
        "seed": parameters.get("seed"),
        "fingerprint": job.fingerprint.digest,
        "fields": job.fingerprint.fields,
        "target": target,
        "task_id": task_id,
        "request_id": request_id,
        "finished": finished,
        "outputs": sorted(outputs, key=lambda o: o["path"]),
        "sidecar": sidecar,
        "sidecar_sha256": sidecar_sha256,
        "failures": failures,
        "state": state,
    }
