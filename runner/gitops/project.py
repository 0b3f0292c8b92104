"""Runs the GitOps way: only new and changed jobs, within a budget, a shard at a time, recorded in
the lock."""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from wanform.runner.engine.states import (
    PARTIAL,
    SKIPPED,
    SUCCEEDED,
    ImageOut,
    JobState,
    RunResult,
)
from wanform.runner.files.areas import within
from wanform.runner.files.hashes import file_sha256
from wanform.runner.gitops.fingerprint import HashCache
from wanform.runner.gitops.links import plan_chained, relinked
from wanform.runner.gitops.lockfile import (
    LockEntry,
    LockFile,
    LockFileError,
    LockOutput,
)
from wanform.runner.gitops.plan import Plan, PlannedJob, lock_entry, look_up_outputs
from wanform.runner.recipes import graph
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.storage.etags import Known
from wanform.runner.storage.location import is_stored
from wanform.runner.storage.s3 import Store, wait_for
from wanform.spec.imageprobe import ImageProbeError, probe_file

RECORDED = frozenset({SUCCEEDED, PARTIAL, SKIPPED})


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` with 1 <= K <= N; ValueError otherwise."""
    k, sep, n = text.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise ValueError(f"--shard takes K/N with 1 <= K <= N, such as 2/3; got {text!r}")
    return int(k), int(n)


def upstream_of(plan: Plan) -> dict[str, set[str]]:
    """Each declared job's key -> the keys of the jobs whose outputs it takes."""
    return {
        j.key: {link.upstream for link in j.checked.links}
        for j in plan.jobs
        if j.checked is not None
    }


def select(
    plan: Plan,
    force: bool,
    part: tuple[int, int] | None,
    wanted: set[str] | None = None,
) -> list[PlannedJob]:
    """The jobs this run executes: pending ones (every declared one with `force`) among `wanted`
    and the jobs they take outputs from (default: all), then this shard's chains."""
    upstream = upstream_of(plan)
    scope = graph.closure(wanted, upstream) if wanted is not None else set(upstream)
    chosen = [
        j for j in plan.jobs if j.checked is not None and j.key in scope and (force or j.pending)
    ]
    if part is None:
        return chosen
    mine = graph.shard_chains([j.key for j in chosen], upstream, *part)
    return [j for j in chosen if j.key in mine]


def over_budget(
    jobs: list[PlannedJob], max_images: int | None, max_cost: float | None
) -> str | None:
    """Why the run would bill more than allowed, or None."""
    images = sum(j.images for j in jobs)
    cost = sum(j.cost for j in jobs)
    if max_images is not None and images > max_images:
        return (
            f"this run would bill up to {images} images, over --max-images {max_images}; "
            "nothing was sent"
        )
    if max_cost is not None and cost > max_cost:
        return (
            f"this run would cost up to {cost:.2f} CNY at list price, "
            f"over --max-cost {max_cost:g}; nothing was sent"
        )
    return None


def _output(image: ImageOut, base: Path, before: LockEntry, etags: Known) -> LockOutput:
    """An image as the lock records it: its path (or an object's URI), digest and pixel size, and
    a stored object's ETag where it is known for these bytes."""
    width, height = image.pixels or (None, None)
    digest = f"sha256:{image.sha256}"
    etag = None
    if is_stored(image.file):
        path = image.file
        # what the lock recorded of these same bytes at this URI, if it did
        kept = [
            o
            for o in before.get("outputs", [])
            if o.get("path") == path and o.get("sha256") == digest
        ]
        if image.pixels is None and kept:  # skipped as done: the size the lock recorded
            width, height = kept[0].get("width"), kept[0].get("height")
        put = etags.get(path)
        etag = put[0] if put and put[1] == digest else kept[0].get("etag") if kept else None
    else:
        path = _relative(image.file, base)
        if image.pixels is None:  # a PNG's size was read as it was written
            with contextlib.suppress(OSError, ImageProbeError):
                info = probe_file(image.file)
                width, height = info.width, info.height
    output: LockOutput = {
        "index": image.index,
        "path": path,
        "sha256": digest,
        "width": width,
        "height": height,
    }
    if is_stored(path):
        output["bytes"] = image.bytes
    if etag:
        output["etag"] = etag
    return output


def _relative(file: str, base: Path) -> str:
    """`file`'s path from `base` (the resolved root), with forward slashes."""
    return Path(os.path.relpath(os.path.abspath(file), base)).as_posix()


def _sidecar_path(sidecar: str | None, base: Path) -> str | None:
    """A sidecar's path from `base` (the resolved root), or its object's URI."""
    if sidecar is None or is_stored(sidecar):
        return sidecar
    return _relative(sidecar, base)


def _sha256(path: str | Path) -> str | None:
    """`sha256:<hex>` of a file's bytes, None when it cannot be read (or is in a store)."""
    if is_stored(str(path)):
        return None
    try:
        with open(path, "rb") as f:
            return f"sha256:{file_sha256(f)}"
    except OSError:
        return None


def record(
    lock: LockFile,
    jobs: list[PlannedJob],
    states: list[JobState],
    root: Path,
    target: str,
    etags: Known,
) -> list[tuple[str, str | None]]:
    """Write a lock entry for every job that ended with images (or was already done); others keep
    theirs. Returns the outputs a replaced entry recorded that the new one does not (a job rerun
    to make fewer images), each with the sha256 recorded."""
    base = root.resolve()
    dropped = []
    for job, state in zip(jobs, states, strict=True):
        if state.state not in RECORDED:
            continue
        before = lock.jobs.get(job.key, {})
        outputs = [_output(image, base, before, etags) for image in state.images]
        kept = {o["path"] for o in outputs}
        dropped += [
            (o["path"], o.get("sha256")) for o in before.get("outputs", []) if o["path"] not in kept
        ]
        failures = [f.record() for f in state.failures]
        lock.jobs[job.key] = lock_entry(
            job,
            target=target,
            task_id=state.task_id,
            request_id=state.request_id,
            finished=state.finished_at or lock.jobs.get(job.key, {}).get("finished"),
            outputs=outputs,
            failures=failures,
            sidecar=_sidecar_path(state.sidecar, base),
            sidecar_sha256=state.sidecar_sha256
            or (_sha256(state.sidecar) if state.sidecar else None),
            state=state.outcome or PARTIAL,
        )
    return dropped


def recorded_files(entry: LockEntry) -> list[tuple[str, str | None]]:
    """The files a lock entry records, each with the sha256 it records: its outputs, then its
    sidecar."""
    outputs = [(o["path"], o.get("sha256")) for o in entry.get("outputs", [])]
    sidecar = entry.get("sidecar")
    return outputs + ([(sidecar, entry.get("sidecar_sha256"))] if sidecar else [])


def check_confined(lock: LockFile, root: Path, areas: tuple[Path, ...]) -> None:
    """LockFileError naming the first entry whose recorded path leads out of `areas` (relative
    paths are taken from `root`)."""
    for key, entry in sorted(lock.jobs.items()):
        for path, _ in recorded_files(entry):
            if not (path and (is_stored(path) or within(root / path, areas))):
                raise LockFileError(
                    f"{lock.path}: job {key} records {path!r}, which is outside the project "
                    "and the output folder"
                )


@dataclass(frozen=True)
class Pruned:
    """What `prune` did: the files it deleted, those it kept with the reason, and (without
    --prune) the files no job records any more that were left in place."""

    removed: list[str]
    kept: list[tuple[str, str]]
    left: list[str] = field(default_factory=list)


def _why_kept(file: Path, sha256: str | None, out: Path) -> str | None:
    """Why prune must not delete `file`, which an orphan records with `sha256`; None when it is
    wanform's own: a file in the output folder with the very bytes wanform wrote."""
    if file.is_symlink():
        return "a symbolic link, not a file wanform wrote"
    if not within(file, (out,)):
        return "not in the output folder"
    if not file.is_file():
        return "not a file"
    if not sha256:
        return "the lock records no sha256 for it"
    if _sha256(file) != sha256:  # read afresh: the hash cache trusts size and mtime
        return "its bytes are not the ones wanform wrote"
    return None


async def _prune_object(uri: str, sha256: str | None, store: Store | None) -> str | None:
    """Delete an orphan's object when it is still the bytes wanform put under the store's prefix;
    else why it is kept ("" when it is gone already)."""
    if store is None or store.location.key_of(uri) is None:
        return "not under the output store's prefix"
    if not sha256:
        return "the lock records no sha256 for it"
    found = await store.content_digest(uri)  # its bytes: metadata may outlive an overwrite
    if found is None:
        return ""
    if found != sha256:
        return "its bytes are not the ones wanform wrote"
    await store.delete(uri)
    return None


def prune(
    lock: LockFile,
    plan: Plan,
    root: Path,
    out: Path,
    store: Store | None = None,
    dropped: list[tuple[str, str | None]] | None = None,
) -> Pruned:
    """Drop orphaned entries from the lock and delete the files they recorded (and the `dropped`
    outputs of jobs that now make fewer images) that are still what wanform wrote in `out` (the
    objects still what it put under `store`'s prefix); anything else is kept, and listed with
    why."""
    removed, kept = [], []
    files = list(dropped or [])
    for job in plan.orphaned():
        files += recorded_files(lock.jobs.pop(job.key, {}))
    for path, sha256 in files:
        if is_stored(path):
            reason = wait_for(functools.partial(_prune_object, path, sha256, store))
            removed += [path] if reason is None else []
            kept += [(path, reason)] if reason else []
            continue
        file = root / path if path else None
        if file is None or not (file.exists() or file.is_symlink()):
            continue  # nothing on disk to delete or keep
        reason = _why_kept(file, sha256, out)
        if reason is None:
            file.unlink()
            removed.append(str(path))
        else:
            kept.append((str(path), reason))
    return Pruned(removed, kept)


@dataclass
class Project:
    """A project's lock file and image-hash cache, for the length of one run."""

    root: Path
    lock: LockFile
    hashes: HashCache
    out: Path
    store: Store | None = None  # where the images are, when `out` is the stage of a store

    @property
    def areas(self) -> tuple[Path, ...]:
        """Where the lock's paths may lead: the root and the output folder."""
        return (self.root, self.out)

    @classmethod
    def open(cls, root: Path, lock_path: Path, out: Path, store: Store | None = None) -> Project:
        """Read the lock; LockFileError if it cannot be read or records a path outside the root
        and `out`."""
        lock = LockFile.load(lock_path)
        check_confined(lock, root, (root, out))
        return cls(root, lock, HashCache(root), out, store)

    def plan(self, jobs: list[CheckedJob], target: str) -> Plan:
        """The plan of `jobs` run on `target` (`Target.made_on`) against the lock (its outputs
        in the store looked up first, all at once)."""
        if self.store is not None:
            look_up_outputs(self.lock, self.hashes, self.store)
        return plan_chained(
            jobs, self.lock, self.root, self.hashes, target=target, areas=self.areas
        )

    def record(
        self,
        jobs: list[PlannedJob],
        result: RunResult,
        target: str,
        plan: Plan,
        prune_orphans: bool,
    ) -> Pruned:
        """Record what ran on `target` (`Target.made_on`), prune if asked, write the lock and hash
        cache; returns what prune did."""
        made = {
            j.key: {image.index: f"sha256:{image.sha256}" for image in state.images}
            for j, state in zip(jobs, result.jobs, strict=True)
            if state.state in RECORDED
        }
        relinked(jobs, plan, self.lock, made, self.hashes)
        etags = self.store.learned if self.store is not None else {}
        dropped = record(self.lock, jobs, result.jobs, self.root, target, etags)
        pruned = (
            prune(self.lock, plan, self.root, self.out, self.store, dropped)
            if prune_orphans
            else Pruned([], [], [path for path, _ in dropped])
        )
        self.lock.save()
        self.hashes.save()
        return pruned
