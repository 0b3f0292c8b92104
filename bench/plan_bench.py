"""`wanform plan` over 2,000 jobs with a full lock: how long a no-change plan takes.

Run: python bench/plan_bench.py [--recipes 500] [--jobs-per-recipe 4]
It writes recipes (each a matrix of seeds) over 20 real input images (photo-sized noise, about
5.5 MB each, so hashing them costs what it would), records every job in a lock as a run would,
then times plan twice in fresh processes' worth of state: once with an empty image-hash cache
(every image read) and once with the cache the first plan saved.
Timing is in-process around validation + planning; recipe and lock generation are excluded.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.gitops.fingerprint import HashCache  # noqa: E402
from runner.gitops.lockfile import LockFile  # noqa: E402
from runner.gitops.plan import lock_entry, make_plan  # noqa: E402
from runner.recipes.check import validate_paths  # noqa: E402


def build(root: Path, recipes: int, per_recipe: int) -> None:
    images = root / "recipes" / "images"
    images.mkdir(parents=True)
    rng = random.Random(7)
    for i in range(20):
        size = (1600 + 16 * i, 1200)
        Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3)).save(
            images / f"in{i}.png", compress_level=1
        )
    seeds = ", ".join(str(s) for s in range(per_recipe))
    for r in range(recipes):
        (root / "recipes" / f"r{r:04d}.yaml").write_text(
            f"model: wan2.7-image\nprompt: bench job {r}\nn: 1\n"
            f"inputs:\n  - path: images/in{r % 20}.png\n"
            f"matrix:\n  seed: [{seeds}]\n"
        )


def plan_once(root: Path):
    start = time.perf_counter()
    result = validate_paths([str(root / "recipes")], root=root)
    hashes = HashCache(root)
    plan = make_plan(result.jobs, LockFile.load(root / "wanform.lock"), root, hashes)
    hashes.save()
    return plan, time.perf_counter() - start


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipes", type=int, default=500)
    parser.add_argument("--jobs-per-recipe", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, args.recipes, args.jobs_per_recipe)
        image_bytes = sum(p.stat().st_size for p in (root / "recipes" / "images").iterdir())
        first, _ = plan_once(root)
        record(root, first)
        (root / ".wanform" / "hashes.json").unlink()
        cold, cold_s = plan_once(root)
        warm, warm_s = plan_once(root)
    jobs = len(warm.jobs)
    pending = len(warm.pending())
    print(
        f"{args.recipes} recipes x {args.jobs_per_recipe} matrix jobs = {jobs} jobs over 20 images "
        f"({image_bytes / 2**20:.0f} MiB), full lock, "
        f"{len(cold.pending())}/{pending} pending (cold/warm)"
    )
    print(f"plan, image-hash cache empty : {cold_s:.3f} s")
    print(f"plan, image-hash cache warm  : {warm_s:.3f} s   [target: < 2 s for 2,000 jobs]")


if __name__ == "__main__":
    main()
