"""`wanform plan` over many jobs with a full lock: how long a no-change plan takes, cold and warm.

Run: python bench/plan_bench.py [--recipes 5000] [--jobs-per-recipe 4]
It writes recipes (each a matrix of seeds) over 20 real input images (photo-sized noise, about
5.5 MB each, so hashing them costs what it would), records every job in a lock as a run would,
then times `wanform plan` (in-process, through the CLI, output discarded) three times:
- cold: no image-hash cache and no plan cache (every image read, every recipe validated);
- images warm: the image-hash cache, no plan cache (every recipe validated and fingerprinted);
- warm: both caches, as a second plan after any plan finds them (wanform.runner.gitops.warmplan).
Recipe, image and lock generation are excluded. Target: a warm no-change plan under 2 s for
5,000 recipes (20,000 jobs).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wanform.runner.cli import main as wanform  # noqa: E402
from wanform.runner.gitops.fingerprint import HashCache  # noqa: E402
from wanform.runner.gitops.lockfile import LockFile  # noqa: E402
from wanform.runner.gitops.plan import lock_entry, make_plan  # noqa: E402
from wanform.runner.recipes.check import validate_paths  # noqa: E402


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
    """Validate and plan through the library, as the first plan of a run would."""
    result = validate_paths([str(root / "recipes")], root=root)
    hashes = HashCache(root)
    lock = LockFile.load(root / "wanform.lock")
    plan = make_plan(result.jobs, lock, root, hashes, target="emulator")
    hashes.save()
    return plan


def timed_cli_plan(root: Path) -> tuple[float, dict]:
    """`wanform plan -o json --root ROOT` in this process: seconds, and the report."""
    start = time.perf_counter()
    result = CliRunner().invoke(wanform, ["plan", "-o", "json", "--root", str(root)])
    elapsed = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(f"plan failed ({result.exit_code}): {result.output[-2000:]}")
    return elapsed, json.loads(result.stdout)


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
        record(root, plan_once(root))
        state = root / ".wanform"
        (state / "hashes.json").unlink()
        cold_s, cold = timed_cli_plan(root)
        (state / "plans.json").unlink()
        images_s, _ = timed_cli_plan(root)
        warm_s, warm = timed_cli_plan(root)
    unchanged = warm["summary"]["unchanged"]
    print(
        f"{args.recipes} recipes x {args.jobs_per_recipe} matrix jobs = "
        f"{len(warm['jobs'])} jobs over 20 images ({image_bytes / 2**20:.0f} MiB), full lock; "
        f"unchanged cold/warm: {cold['summary']['unchanged']}/{unchanged}"
    )
    verdict = ("met" if warm_s < 2 else "NOT met") if args.recipes >= 5000 else "applies at 5,000"
    print(f"plan, cold (no caches)           : {cold_s:.3f} s")
    print(f"plan, image hashes cached        : {images_s:.3f} s")
    print(f"plan, warm (plan cache)          : {warm_s:.3f} s   [target < 2 s: {verdict}]")


if __name__ == "__main__":
    main()
