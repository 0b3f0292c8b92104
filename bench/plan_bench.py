"""`wanform plan` over many jobs with a full lock: how long a no-change plan takes, cold and warm,
next to the time reading the lock alone takes, at several sizes.

Run: python bench/plan_bench.py [--recipes 250 1250 5000] [--jobs-per-recipe 4]
For each number of recipes it writes recipes (each a matrix of seeds) over 20 real input images
(photo-sized noise, about 5.5 MB each, so hashing them costs what it would), records every job in
a lock as a run would, then times `wanform plan -o json` (in-process, through the CLI, output
discarded):
- cold: no image-hash cache and no plan cache (every image read, every recipe validated);
- images cached: the image-hash cache, no plan cache (every recipe validated and fingerprinted);
- warm: both caches, as a second plan after any plan finds them (wanform.runner.gitops.warmplan).
The floor is `LockFile.load` of that lock (reading and checking it, which every plan does); each
figure is printed beside it, and per job, so that growth with the job count shows. Wall time on a
shared machine includes waiting for a core, so the targets (at 20,000 jobs: cold under 10 s,
warm under 1 s and at most 3x the floor) are judged on CPU seconds; the load average is printed.
Recipe, image and lock generation are excluded.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wanform.runner.cli import main as wanform  # noqa: E402
from wanform.runner.gitops.fingerprint import HashCache  # noqa: E402
from wanform.runner.gitops.lockfile import LockFile  # noqa: E402
from wanform.runner.gitops.plan import lock_entry, make_plan  # noqa: E402
from wanform.runner.recipes.check import validate_paths  # noqa: E402

IMAGES = 20


@dataclass(frozen=True)
class Timed:
    """Seconds of one measurement: on the clock and on the CPU."""

    wall: float
    cpu: float


def make_images(folder: Path) -> None:
    folder.mkdir(parents=True)
    rng = random.Random(7)
    for i in range(IMAGES):
        size = (1600 + 16 * i, 1200)
        Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3)).save(
            folder / f"in{i}.png", compress_level=1
        )


def build(root: Path, images: Path, recipes: int, per_recipe: int) -> None:
    """Recipes over links to the shared images (hashing reads them all the same)."""
    folder = root / "recipes" / "images"
    folder.mkdir(parents=True)
    for image in images.iterdir():
        try:
            os.link(image, folder / image.name)
        except OSError:
            shutil.copyfile(image, folder / image.name)
    seeds = ", ".join(str(s) for s in range(per_recipe))
    for r in range(recipes):
        (root / "recipes" / f"r{r:04d}.yaml").write_text(
            f"model: wan2.7-image\nprompt: bench job {r}\nn: 1\n"
            f"inputs:\n  - path: images/in{r % IMAGES}.png\n"
            f"matrix:\n  seed: [{seeds}]\n"
        )


def plan_once(root: Path):
    """Validate and plan through the library, as the first plan of a run would."""
    result = validate_paths([str(root / "recipes")], root=root)
    hashes = HashCache(root)
    lock = LockFile.load(root / "wanform.lock")
    plan = make_plan(result.jobs, lock, root, hashes, target="emulator")
    hashes.save()
    return plan


def record(root: Path, plan) -> None:
    lock = LockFile.load(root / "wanform.lock")
    for job in plan.pending():
        lock.jobs[job.key] = lock_entry(
            job,
            target="emulator",
            task_id="t",
            request_id="r",
            finished=None,
            outputs=[],
            failures=[],
        )
    lock.save()


def timed_cli_plan(root: Path) -> tuple[Timed, dict]:
    """`wanform plan -o json --root ROOT` in this process: its times, and the report. It starts
    as a fresh process would, with no garbage of the plans before it to collect."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = CliRunner().invoke(wanform, ["plan", "-o", "json", "--root", str(root)])
    took = Timed(time.perf_counter() - wall, time.process_time() - cpu)
    if result.exit_code != 0:
        raise SystemExit(f"plan failed ({result.exit_code}): {result.output[-2000:]}")
    return took, json.loads(result.stdout)


def floor(root: Path) -> Timed:
    """The fastest of three reads of the lock."""
    runs = []
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        LockFile.load(root / "wanform.lock")
        runs.append(Timed(time.perf_counter() - wall, time.process_time() - cpu))
    return min(runs, key=lambda t: t.cpu)


def measure(root: Path) -> dict[str, Timed]:
    """Floor, cold, images cached and warm (the fastest of three) plans of a recorded project."""
    state = root / ".wanform"
    (state / "hashes.json").unlink()
    (state / "plans.json").unlink(missing_ok=True)
    out = {"floor": floor(root)}
    out["cold"], cold = timed_cli_plan(root)
    (state / "plans.json").unlink()
    out["images cached"], _ = timed_cli_plan(root)
    warm = [timed_cli_plan(root) for _ in range(3)]
    out["warm"], report = min(warm, key=lambda w: w[0].cpu)
    for doc in (cold, report):
        if doc["summary"]["unchanged"] != len(doc["jobs"]):
            raise SystemExit(f"not a no-change plan: {doc['summary']}")
    return out


def show(jobs: int, times: dict[str, Timed]) -> None:
    base = times["floor"]
    for name, took in times.items():
        ratio = "" if name == "floor" else f" = {took.cpu / base.cpu:5.1f}x floor"
        print(
            f"  {name:<14} wall {took.wall:7.3f} s  cpu {took.cpu:7.3f} s{ratio:<17}"
            f"  {took.cpu / jobs * 1e6:6.1f} us/job"
        )


def verdict(times: dict[str, Timed]) -> str:
    cold, warm, base = times["cold"].cpu, times["warm"].cpu, times["floor"].cpu
    met = cold < 10 and warm < 1 and warm <= 3 * base
    return (
        f"targets at 20,000 jobs (cpu): cold {cold:.2f} s < 10, warm {warm:.2f} s < 1 and "
        f"<= 3x floor ({3 * base:.2f} s): {'met' if met else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipes", type=int, nargs="+", default=[250, 1250, 5000])
    parser.add_argument("--jobs-per-recipe", type=int, default=4)
    args = parser.parse_args()
    per_recipe = args.jobs_per_recipe
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    results: dict[int, dict[str, Timed]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "images"
        make_images(images)
        mib = sum(p.stat().st_size for p in images.iterdir()) / 2**20
        for recipes in args.recipes:
            root = Path(tmp) / f"p{recipes}"
            build(root, images, recipes, per_recipe)
            record(root, plan_once(root))
            jobs = recipes * per_recipe
            lock_mb = (root / "wanform.lock").stat().st_size / 1e6
            print(
                f"{jobs} jobs ({recipes} recipes x {per_recipe} matrix jobs) over {IMAGES} "
                f"images ({mib:.0f} MiB), full lock ({lock_mb:.1f} MB):"
            )
            results[jobs] = measure(root)
            show(jobs, results[jobs])
            shutil.rmtree(root)
    if len(results) > 1:
        print(
            "cpu per job at each size (linear: the same at every size; cold includes hashing "
            f"the {mib:.0f} MiB of images, a fixed cost):"
        )
        for name in ("floor", "cold", "images cached", "warm"):
            row = "  ".join(
                f"{jobs}: {t[name].cpu / jobs * 1e6:6.1f} us" for jobs, t in results.items()
            )
            print(f"  {name:<14} {row}")
    if 20000 in results:
        print(verdict(results[20000]))


if __name__ == "__main__":
    main()
