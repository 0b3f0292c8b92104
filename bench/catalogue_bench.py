"""One data-driven recipe of ROWS rows next to ROWS one-job recipes: validate, cold and warm
no-change plans, and the runner's peak memory for a run of them against the emulator.

Run: python bench/catalogue_bench.py [--rows 10000] [--skip-run]

Both projects make the same jobs (wan2.7-image text-to-image, a templated description, a palette
accent and a seed from each row): "catalogue" is one recipe with `rows: products.csv`, "recipes" is
ROWS recipe files. Every job sends the same body (the cells that reach it are the same in every
row), so the emulator draws one image and the run measures the runner, not drawing.
Generation is excluded from every figure. Validate is `validate_paths` timed
in-process; the plans are `wanform plan -o json` through the CLI in-process, after a lock that
holds every job (as a finished run leaves it): cold without the plan cache, warm with it. Memory
is the peak RSS (ru_maxrss) of a child process that runs `wanform.Project.run` (validating,
planning, the run, the lock) against an emulator in its own process, with every limit raised so
the run is short; the emulator's process is not counted. Each time is printed as wall time and as
this process's CPU time, the figure least moved by other load on the machine. Targets (issue 22),
at 10,000 rows: validate and a cold plan under 10 s, a warm plan under 1 s, the run under 150 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from plan_bench import plan_once, record, timed_cli_plan  # noqa: E402
from runner_bench import bench_models, serve  # noqa: E402

import wanform  # noqa: E402
from wanform.runner.recipes.check import validate_paths  # noqa: E402

CATALOGUE = """model: wan2.7-image
rows: products.csv
key: sku
description: "The {title} on a wooden table, line: {tagline}"
prompt: A product on a wooden table.
palette:
  - {hex: "{accent}", ratio: 50}
  - {hex: "#FFFFFF", ratio: 30}
  - {hex: "#000000", ratio: 20}
seed: {column: seed}
size: 1K
n: 1
"""
ONE = """model: wan2.7-image
name: place-{sku}
description: "The {title} on a wooden table, line: {tagline}"
prompt: A product on a wooden table.
palette:
  - {{hex: "{accent}", ratio: 50}}
  - {{hex: "#FFFFFF", ratio: 30}}
  - {{hex: "#000000", ratio: 20}}
seed: {seed}
size: 1K
n: 1
"""
RUN_TIMEOUT = 600.0
# runner_bench's limits for its memory figure at scale
RUN_LIMITS = {"rps": 500.0, "in_flight": 500, "qps": 500.0, "seconds": 0.1}


def rows(count: int) -> list[dict[str, str]]:
    return [
        {
            "sku": f"a-{i:05d}",
            "title": f"product {i}",
            "tagline": f"tagline {i}",
            "accent": "#C2D1E6",
            "seed": "7",
        }
        for i in range(count)
    ]


def build(root: Path, kind: str, count: int) -> None:
    folder = root / "recipes"
    folder.mkdir(parents=True)
    data = rows(count)
    if kind == "catalogue":
        lines = ["sku,title,tagline,accent,seed"] + [",".join(r.values()) for r in data]
        (folder / "products.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (folder / "place.yaml").write_text(CATALOGUE, encoding="utf-8")
        return
    for row in data:
        (folder / f"place-{row['sku']}.yaml").write_text(ONE.format(**row), encoding="utf-8")


def timed(step):  # type: ignore[no-untyped-def]
    """`step()`'s result, wall seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def plans(root: Path) -> tuple[list[str], int]:
    """Validate, cold plan and warm plan over a full lock (wall and CPU seconds each), and the
    jobs the warm plan found unchanged."""
    result, *validate = timed(lambda: validate_paths([str(root / "recipes")], root=root))
    assert not result.report.errors(), result.report.errors()[:3]
    record(root, plan_once(root))
    (root / ".wanform" / "plans.json").unlink(missing_ok=True)
    _, *cold = timed(lambda: timed_cli_plan(root))
    (_, warm), *hot = timed(lambda: timed_cli_plan(root))
    shown = [
        f"{name} {w:6.2f} s ({c:5.2f} s CPU)"
        for name, (w, c) in (("validate", validate), ("cold plan", cold), ("warm plan", hot))
    ]
    return shown, warm["summary"]["unchanged"]


def run_child(root: str, base_url: str, key: str, peaks: multiprocessing.Queue) -> None:
    """A run of the project at `root` in this fresh process; its peak RSS goes to `peaks`. Each
    project has its own key: the other's tasks on one account would be unclaimed ones."""
    models = bench_models(RUN_LIMITS["rps"], int(RUN_LIMITS["in_flight"]), RUN_LIMITS["seconds"])
    project = wanform.Project(root, models=models, env={"DASHSCOPE_API_KEY": key})
    settings = wanform.RunSettings(
        target=base_url, emulator_speed=1.0, query_rps=str(RUN_LIMITS["qps"])
    )
    try:
        outcome = project.run(settings=settings)
        states = Counter(job.state for job in outcome.result.jobs)
        said = f"exit {outcome.exit_code}, " + ", ".join(f"{n} {s}" for s, n in states.items())
    except wanform.Error as exc:
        said = f"stopped: {exc}"
    peaks.put((said, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def peak_run(root: Path, base_url: str, kind: str) -> tuple[str, float]:
    """What a run in a fresh process ended with, and its peak RSS in MB."""
    ctx = multiprocessing.get_context("spawn")
    peaks = ctx.Queue()
    child = ctx.Process(target=run_child, args=(str(root), base_url, f"sk-bench-{kind}", peaks))
    child.start()
    try:
        return peaks.get(timeout=RUN_TIMEOUT)
    finally:
        child.join(RUN_TIMEOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--skip-run", action="store_true", help="plans only, no emulator run")
    args = parser.parse_args()
    at_scale = args.rows >= 10_000
    print(f"{args.rows} jobs: one recipe over a {args.rows}-row CSV vs {args.rows} recipe files")
    emulator = None
    if not args.skip_run:
        ctx = multiprocessing.get_context("spawn")
        urls = ctx.Queue()
        limits = (RUN_LIMITS["rps"], int(RUN_LIMITS["in_flight"]), RUN_LIMITS["qps"])
        emulator = ctx.Process(target=serve, args=(*limits, RUN_LIMITS["seconds"], urls))
        emulator.start()
        base_url = urls.get(timeout=60)
    try:
        for kind in ("catalogue", "recipes"):
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                build(root, kind, args.rows)
                shown, unchanged = plans(root)
                print(f"{kind:9}: " + ", ".join(shown) + f"; {unchanged} unchanged")
                for path in (root / "wanform.lock", root / ".wanform" / "plans.json"):
                    path.unlink(missing_ok=True)
                if emulator is not None:
                    said, peak = peak_run(root, base_url, kind)
                    print(f"{kind:9}: run ({said}), peak RSS {peak:.0f} MB")
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.join(60)
    scale = "" if at_scale else " (the targets apply at 10,000 rows)"
    print(
        "targets: validate and cold plan < 10 s, warm plan < 1 s, run < 150 MB" + scale,
    )


if __name__ == "__main__":
    main()
