"""The crash-and-fault soak of bench/soak.py, small and seeded: two projects sharing a key, kill -9
at random moments, a faulty emulator; nothing paid twice, no wrong or broken file, every job in a
state. Then the audit itself is shown to count what it is meant to."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "soak.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("wanform_soak_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


soak = load_bench()
# Twice the bench's fault rates, so a dozen jobs lose enough answers that an engine adopting the
# wrong task is caught in most runs (the runs' timing varies; the seed fixes the dice).
SETTINGS = soak.Settings(jobs=16, kills=6, seed=7, faults=2.0)
# half a minute of processes started and killed: the slow tier's
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def soaked(tmp_path_factory):
    base = tmp_path_factory.mktemp("soak")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("WANFORM_LATE_TASK_GRACE", raising=False)  # the grace DashScope is given
        return asyncio.run(soak.soak(SETTINGS, base))


def test_a_small_soak_finds_nothing(soaked):
    shown = soak.describe(soaked, verbose=True)
    assert soaked.audit.counts["jobs"] == SETTINGS.jobs, shown
    # every settled job owns a task; two unresolved jobs may share the one candidate both lost
    settled = SETTINGS.jobs - soaked.audit.states["unresolved"]
    assert soaked.audit.counts["submissions"] >= settled, shown
    assert any(r["killed"] for p in soaked.projects for r in p.runs), shown
    assert all(p.finished for p in soaked.projects), shown
    assert {t: soaked.audit.counts[t] for t in soak.TARGETS} == dict.fromkeys(soak.TARGETS, 0), (
        shown
    )


def chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def repaint(path: Path, pixels_from: Path) -> None:
    """`path` with the image data of `pixels_from` and its own text: a valid PNG, the wrong one."""
    own = list(soak.png_chunks(path.read_bytes()))
    other = list(soak.png_chunks(pixels_from.read_bytes()))
    body = [chunk(k, p) for k, p in other if k not in (b"iTXt", b"IEND")]
    body += [chunk(k, p) for k, p in own if k == b"iTXt"]
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"".join(body) + chunk(b"IEND", b""))


async def test_the_audit_counts_each_kind_of_harm(soaked, tmp_path):
    """A copy of the soaked projects, harmed once in each way the soak counts."""
    copies, done = [], []
    for project in soaked.projects:
        shutil.copytree(project.root, tmp_path / project.name)
        copy = dataclasses.replace(project, root=tmp_path / project.name)
        copies.append(copy)
        ends = soak.final_states(copy, soak.job_table(copy)).values()
        done += [j for j in ends if soak.STATES[j["status"]] == "succeeded"]
    assert len(done) >= 4, soak.describe(soaked, verbose=True)
    first, second, third, fourth = (Path(j["images"][0]["file"]) for j in done[:4])
    repaint(first, pixels_from=second)  # a wrong image, its text the job's own
    sidecar = next(third.parent.glob("*.json"))
    sidecar.write_text(sidecar.read_text(encoding="utf-8")[:-20], encoding="utf-8")  # corrupt
    (third.parent / f".{third.name}.abcd1234.part").write_bytes(b"\x89PNG")  # leftover
    fourth.unlink()  # a job that succeeded without its image is in no state
    shutil.copy(soaked.projects[0].root.parent / soak.CANARY, tmp_path / soak.CANARY)
    (copies[0].root / soak.CANARY).write_text("overwritten")  # a file outside the output folder
    truth = soaked.truth
    task = next(t for t in truth.tasks if t.task_id == done[1]["task_id"])
    key = (task.brief.prompt, task.brief.seed)  # a task billed again for it, recorded nowhere
    truth.by_job[key] = [*truth.by_job[key], dataclasses.replace(task, task_id="paid-again")]
    try:
        counts = (await soak.audit(copies, truth)).counts
    finally:
        truth.by_job[key] = truth.by_job[key][:-1]
    assert {t: counts[t] for t in soak.TARGETS} == {
        "duplicates": 1,
        "wrong images": 1,
        "no state": 1,
        "corrupt files": 1,
        "leftover files": 1,
        "tracebacks": 0,
        "hung runs": 0,
        "deleted outside": 1,
    }
