"""Validation throughput and memory: 1,000 generated recipes, and one recipe with a 20 MB input
image.

Run: python bench/validate_bench.py [--recipes 1000]
Throughput is timed in-process around `validate_paths` (interpreter start and recipe generation
excluded). Memory is each child process's peak RSS (VmHWM), validating one recipe whose image is
small vs ~20 MB.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wanform.runner.recipes.check import validate_paths  # noqa: E402

MODELS_CYCLE = (
    "wan2.7-image-pro",
    "wan2.7-image",
    "wan2.6-image",
    "wan2.5-i2i-preview",
    "wanx2.1-imageedit",
)


def make_images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i}.png"
        Image.new("RGB", (600 + i * 8, 520 + i * 4), (i * 9 % 256, 80, 160)).save(path)
        paths.append(path)
    return paths


def recipe_text(i: int, image: str) -> str:
    model = MODELS_CYCLE[i % len(MODELS_CYCLE)]
    extra = {
        "wan2.7-image-pro": f"inputs:\n  - path: {image}\n    bboxes: [[10, 10, 200, 200]]\n"
        f"  - path: {image}\n"
        "palette:\n  - {hex: '#112233', ratio: 50}\n  - {hex: '#445566', ratio: 30}\n"
        "  - {hex: '#778899', ratio: 20}\nsize: 2K\n",
        "wan2.7-image": "size: '1536*1024'\nthinking_mode: true\n",
        "wan2.6-image": (
            f"inputs:\n  - path: {image}\nnegative_prompt: blur\nprompt_extend: false\n"
        ),
        "wan2.5-i2i-preview": f"inputs:\n  - path: {image}\n  - path: {image}\nsize: '1280*720'\n",
        "wanx2.1-imageedit": f"function: expand\ninputs:\n  - path: {image}\ntop_scale: 1.5\n",
    }[model]
    return f"name: job-{i}\nmodel: {model}\nprompt: bench recipe {i}\nn: 1\nseed: {i}\n{extra}"


def throughput(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images = make_images(root / "images", 20)
        for i in range(count):
            (root / f"r{i:04d}.yaml").write_text(
                recipe_text(i, f"images/{images[i % len(images)].name}")
            )
        start = time.perf_counter()
        result = validate_paths([str(root)], root=root)
        elapsed = time.perf_counter() - start
    errors = len(result.report.errors())
    print(
        f"validated {result.recipes} recipes ({len(result.jobs)} jobs, {errors} errors) "
        f"in {elapsed:.3f} s "
        f"= {result.recipes / elapsed:,.0f} recipes/s  [target: {count} in < 2 s]"
    )


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM); unlike ru_maxrss it does not inherit the parent's
    peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_peak(recipe: str) -> None:
    """Child mode: validate one recipe, print peak RSS in KiB before and after, and the error
    count."""
    before = peak_rss_kib()
    result = validate_paths([recipe], root=Path(recipe).parent)
    after = peak_rss_kib()
    print(before, after, len(result.report.errors()))


def make_image(path: Path, kind: str) -> None:
    if kind == "big":
        # random noise does not compress: 2500x2600 RGB is about 19.5 MB as PNG, under wan2.7's
        # 20 MB
        noise = random.Random(1).randbytes(2500 * 2600 * 3)
        Image.frombytes("RGB", (2500, 2600), noise).save(path, compress_level=1)
    else:
        Image.new("RGB", (2500, 2600), "white").save(path)


def memory() -> None:
    """Peak RSS of a fresh process validating one recipe, with a small and with a ~20 MB image (made
    beforehand)."""
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("small", "big"):
            folder = Path(tmp) / kind
            folder.mkdir()
            make_image(folder / "in.png", kind)
            (folder / "r.yaml").write_text(
                "model: wan2.7-image-pro\nprompt: p\nn: 1\ninputs:\n  - path: in.png\n"
            )
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(folder / "r.yaml")],
                capture_output=True,
                text=True,
                check=True,
            )
            before, after, errors = map(int, out.stdout.split())
            size = (folder / "in.png").stat().st_size
            print(
                f"{kind:5} image {size / 1e6:6.2f} MB: peak RSS {after / 1024:6.1f} MiB "
                f"(grew {(after - before) / 1024:5.1f} MiB while validating), {errors} errors"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipes", type=int, default=1000)
    parser.add_argument("--child", metavar="RECIPE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_peak(args.child)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    throughput(args.recipes)
    memory()


if __name__ == "__main__":
    main()
