"""The lock's one stable text, and the budget's edge: exactly at the limit is allowed."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from wanform.runner.gitops.lockfile import LockFile
from wanform.runner.gitops.plan import NEW, PlannedJob
from wanform.runner.gitops.project import over_budget


def test_the_lock_is_written_with_sorted_keys_whatever_the_insertion_order(tmp_path: Path):
    """Jobs and their fields come out in key order, so locks diff only where jobs differ."""
    lock = LockFile(tmp_path / "wanform.lock")
    lock.jobs["b.yaml::b"] = {"seed": 2, "model": "wan2.7-image"}
    lock.jobs["a.yaml::a"] = {"seed": 1, "model": "wan2.6-image"}
    lock.save()
    assert lock.path.read_text() == (
        "{\n"
        '  "jobs": {\n'
        '    "a.yaml::a": {\n'
        '      "model": "wan2.6-image",\n'
        '      "seed": 1\n'
        "    },\n"
        '    "b.yaml::b": {\n'
        '      "model": "wan2.7-image",\n'
        '      "seed": 2\n'
        "    }\n"
        "  },\n"
        '  "version": 1\n'
        "}\n"
    )


def test_saving_a_large_lock_never_holds_its_whole_text(tmp_path: Path):
    """The lock's text is encoded into the file as it is made, never held whole (at 10,000 jobs,
    16 MB as text and again as bytes: a run's peak), and saving it unchanged leaves the file as
    it was."""
    lock = LockFile(tmp_path / "wanform.lock")
    for i in range(1000):
        lock.jobs[f"r.yaml::r[sku=a-{i}]"] = {
            "fields": {f"f{n}": f"sha256:{n:064d}" for n in range(8)},
            "outputs": [{"path": f"out/r/a-{i}-1.png", "sha256": "0" * 64}],
        }
    tracemalloc.start()
    try:
        lock.save()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = lock.path.stat().st_size
    assert peak < size / 4
    before = lock.path.stat()
    LockFile.load(lock.path).save()
    after = lock.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [p.name for p in tmp_path.iterdir()] == ["wanform.lock"]


def jobs(*images: int) -> list[PlannedJob]:
    return [PlannedJob(f"r.yaml::{i}", NEW, "wan2.7-image", n) for i, n in enumerate(images)]


@pytest.mark.parametrize(("limit", "refused"), [(5, False), (4, True)])
def test_max_images_allows_a_run_that_bills_exactly_the_limit(limit, refused):
    """Five billable images pass --max-images 5 and are refused by --max-images 4."""
    reason = over_budget(jobs(2, 3), limit, None)
    assert (reason is not None) is refused
    if refused:
        assert reason == (
            "this run would bill up to 5 images, over --max-images 4; nothing was sent"
        )


def test_max_cost_allows_a_run_that_costs_exactly_the_limit():
    """A run whose list price equals --max-cost passes; a cent less refuses it."""
    planned = jobs(2, 3)
    cost = sum(j.cost for j in planned)
    assert over_budget(planned, None, cost) is None
    assert over_budget(planned, None, cost - 0.01) == (
        f"this run would cost up to {cost:.2f} CNY at list price, "
        f"over --max-cost {cost - 0.01:g}; nothing was sent"
    )
