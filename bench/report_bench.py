"""`wanform report` over 2,000 jobs: the first report (every thumbnail made) and the next (cached).

Run: python bench/report_bench.py [--recipes 500] [--jobs-per-recipe 4]
It writes recipes (each a matrix of seeds) over 20 input images with boxes and a palette, one
1024x1024 output PNG per job recorded in a lock as a run would, then times `wanform report` as a
fresh process twice: with an empty thumbnail cache and with the cache the first one made. The
target is under 10 s with the cache warm. It also prints the page's size and its images: every
thumbnail is lazy-loaded and small, and no full-size image is loaded by the page.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wanform.runner.gitops.fingerprint import HashCache  # noqa: E402
from wanform.runner.gitops.lockfile import LockFile  # noqa: E402
from wanform.runner.gitops.plan import lock_entry, make_plan  # noqa: E402
from wanform.runner.recipes.check import validate_paths  # noqa: E402

TARGET_SECONDS = 10.0
LAZY = 'loading="lazy"'
THUMB_SRC = 'src="thumbs/'


def noise(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    small = Image.frombytes(
        "RGB", (size[0] // 16, size[1] // 16), rng.randbytes(size[0] * size[1] * 3 // 256)
    )
    return small.resize(size, Image.Resampling.BILINEAR)


def build(root: Path, recipes: int, per_recipe: int) -> None:
    images = root / "recipes" / "images"
    images.mkdir(parents=True)
    rng = random.Random(7)
    for i in range(20):
        noise(rng, (1600, 1200)).save(images / f"in{i}.png", compress_level=1)
    seeds = ", ".join(str(s) for s in range(per_recipe))
    for r in range(recipes):
        (root / "recipes" / f"r{r:04d}.yaml").write_text(
            f"model: wan2.7-image\nprompt: bench job {r} <b>not bold</b>\nn: 1\n"
            f"inputs:\n  - path: images/in{r % 20}.png\n    bboxes: [[100, 80, 900, 700]]\n"
            "palette:\n  - {hex: '#264653', ratio: 50}\n  - {hex: '#E9C46A', ratio: 30}\n"
            "  - {hex: '#E76F51', ratio: 20}\n"
            f"matrix:\n  seed: [{seeds}]\n"
        )


def record(root: Path) -> int:
    """One output per job, written and locked as a run would; returns the job count."""
    result = validate_paths([str(root / "recipes")], root=root)
    lock = LockFile.load(root / "wanform.lock")
    plan = make_plan(result.jobs, lock, root, HashCache(root), target="emulator")
    rng = random.Random(8)
    outputs = []
    for i in range(20):
        path = root / f"source{i}.png"
        noise(rng, (1024, 1024)).save(path, compress_level=1)
        outputs.append(path.read_bytes())
    for n, job in enumerate(plan.pending()):
        recipe, _, name = job.key.partition("::")
        out = root / "out" / Path(recipe).stem / f"{n:05d}-1.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        data = outputs[n % len(outputs)]
        out.write_bytes(data)
        lock.jobs[job.key] = lock_entry(
            job,
            target="emulator",
            task_id=f"task-{n}",
            request_id=None,
            finished=None,
            outputs=[
                {
                    "path": out.relative_to(root).as_posix(),
                    "sha256": "sha256:" + hashlib.sha256(data).hexdigest(),
                    "width": 1024,
                    "height": 1024,
                }
            ],
            failures=[],
        )
    lock.save()
    return len(plan.pending())


def report(root: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "wanform.runner.cli", "report", "recipes"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=int, default=500)
    parser.add_argument("--jobs-per-recipe", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, args.recipes, args.jobs_per_recipe)
        jobs = record(root)
        cold = report(root)
        warm = report(root)
        page = root / "report" / "index.html"
        thumbs = list((root / "report" / "thumbs").iterdir())
        html = page.read_text(encoding="utf-8")
        print(
            f"jobs: {jobs}; thumbnails: {len(thumbs)} files, "
            f"{sum(t.stat().st_size for t in thumbs) / 1e6:.1f} MB"
        )
        print(
            f"page: {len(html.encode()) / 1e6:.1f} MB; <img> tags: {html.count('<img ')}, "
            f"lazy: {html.count(LAZY)}, pointing at thumbs/: {html.count(THUMB_SRC)}"
        )
        print(f"report, thumbnails made: {cold:.2f} s")
        verdict = "within" if warm < TARGET_SECONDS else "OVER"
        print(
            f"report, thumbnails cached: {warm:.2f} s ({verdict} the {TARGET_SECONDS:.0f} s target)"
        )


if __name__ == "__main__":
    main()
