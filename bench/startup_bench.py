"""Start-up time of the CLI against the interpreter with click and PyYAML loaded.

Run: python bench/startup_bench.py [--repeat 20] [--recipe recipes/wan27-pro-graffiti-car.yaml]
Each command runs as a fresh subprocess, the three in turn so that they share the machine's state;
one untimed round first fills the page cache and the bytecode cache (`__pycache__`, which holds
the generated schema validators' too), as any earlier command on the machine would have. The
commands run without PYTHONDONTWRITEBYTECODE: pip byte-compiles what it installs, so users start
from bytecode even where that is set.
Prints the median and the minimum wall time of each, the ratios of medians, and exits 1 when a
ratio misses its target: `wanform --help` within 1x of `python -c "import click, yaml"`,
`wanform validate` within 2.5x, and the pytest plugin (`import pytest` and the plugin module, as
every pytest session where wanform is installed loads it) within 1.1x of `import pytest`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
# command -> (its baseline, the largest ratio of medians allowed)
TARGETS = {"help": ("baseline", 1.0), "validate": ("baseline", 2.5), "plugin": ("pytest", 1.1)}


def wanform() -> list[str]:
    """The installed console script beside this interpreter, else the module."""
    script = Path(sys.executable).with_name("wanform")
    return [str(script)] if script.exists() else [sys.executable, "-m", "wanform.runner.cli"]


def commands(recipe: str) -> dict[str, list[str]]:
    return {
        "baseline": [sys.executable, "-c", "import click, yaml"],
        "help": [*wanform(), "--help"],
        "validate": [*wanform(), "validate", recipe],
        "pytest": [sys.executable, "-c", "import pytest"],
        "plugin": [sys.executable, "-c", "import pytest, wanform.emulator.pytest_plugin"],
    }


def once(argv: list[str]) -> float:
    """Seconds one run takes; a failing command stops the bench."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env=ENVIRONMENT, capture_output=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode()}")
    return elapsed


def measure(argvs: dict[str, list[str]], repeat: int) -> dict[str, list[float]]:
    """`repeat` timings of every command, taken round-robin after one untimed round."""
    for argv in argvs.values():
        once(argv)
    times: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(repeat):
        for name, argv in argvs.items():
            times[name].append(once(argv))
    return times


def report(argvs: dict[str, list[str]], times: dict[str, list[float]]) -> bool:
    """Print the figures; whether every target was met."""
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, argv in argvs.items():
        shown = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))
        print(
            f"{name:<9} median {medians[name] * 1000:6.1f} ms  "
            f"min {min(times[name]) * 1000:6.1f} ms  ({shown})"
        )
    met = True
    for name, (baseline, target) in TARGETS.items():
        ratio = medians[name] / medians[baseline]
        verdict = "ok" if ratio <= target else "MISSED"
        print(f"{name}/{baseline} = {ratio:.2f}x (target <= {target:g}x): {verdict}")
        met = met and ratio <= target
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed runs of each command")
    parser.add_argument(
        "--recipe",
        default="recipes/wan27-pro-graffiti-car.yaml",
        help="the recipe `wanform validate` checks (relative to the repository)",
    )
    args = parser.parse_args()
    argvs = commands(args.recipe)
    print(f"{args.repeat} runs each, {sys.executable}")
    met = report(argvs, measure(argvs, args.repeat))
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
