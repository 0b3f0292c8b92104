"""A longer run of the fuzz properties in tests/test_fuzz.py: `validate` over mutated recipes,
`check_request` and the emulator's submission path over mutated bodies, and the emulator's task
list, admin and result routes over odd queries and bodies.

Run: python bench/fuzz.py [--examples 5000] [--seed N] [--only validate|request|emulator|routes]
Unlike the test, a failing example does not stop the run: each property prints how many examples
it tried and its distinct failures (exception type and message, with the first example that
raised it). Exits 1 when any property failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import conftest  # noqa: E402  # tests/conftest.py draws the case images
import test_fuzz  # noqa: E402

Found = dict[str, str]


def run(name: str, strategy: st.SearchStrategy, check: Callable, examples: int, at: int) -> Found:
    """Try `check` on `examples` drawn values; its failures, one per kind, with an example each."""
    tried, failures = 0, {}

    @seed(at)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # no shrinking: the run keeps going past failures
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def each(value: object) -> None:
        nonlocal tried
        tried += 1
        try:
            check(value)
        except Exception as exc:  # every failure is a finding to report, not to stop on
            kind = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            failures.setdefault(kind, f"{value!r}"[:500] + "\n" + traceback.format_exc(limit=-3))

    started = time.perf_counter()
    each()
    elapsed = time.perf_counter() - started
    print(f"{name}: {tried} examples in {elapsed:.1f} s, {len(failures)} failures found")
    for kind, example in failures.items():
        print(f"  {kind}\n    example: {example}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=5000, help="per property")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["validate", "request", "emulator", "routes"])
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as temporary:
        base = Path(temporary)
        cases = base / "source" / "cases"
        cases.parent.mkdir()
        shutil.copytree(REPO / "tests" / "cases", cases)
        conftest.write_images(cases / "images", base / "source" / "outside")
        roots = test_fuzz.fuzz_roots(base / "fuzz", cases)
        emulator = test_fuzz.Emulator()
        properties = {
            "validate": (test_fuzz.recipe_texts(), lambda r: test_fuzz.check_validate(roots, *r)),
            "request": (test_fuzz.request_bodies(), test_fuzz.check_body),
            "emulator": (
                test_fuzz.request_bodies(),
                lambda body: test_fuzz.check_submission(emulator, body),
            ),
            "routes": (
                test_fuzz.OTHER_REQUESTS,
                lambda call: test_fuzz.check_other_request(emulator, call),
            ),
        }
        try:
            for name, (strategy, check) in properties.items():
                if args.only in (None, name):
                    failed |= bool(run(name, strategy, check, args.examples, args.seed))
        finally:
            emulator.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
