"""Every mutant of bench/mutants.py still applies to the tree, so a refactor that moves its code
breaks this test, not the bench months later."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "mutants.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("wanform_mutants_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


BENCH_MODULE = load_bench()


@pytest.mark.parametrize("mutant", BENCH_MODULE.MUTANTS, ids=lambda m: m.name)
def test_the_mutant_applies_compiles_and_its_tests_exist(mutant):
    """The original snippet occurs exactly once in its file, the mutated file compiles, and the
    tests it runs exist."""
    root = BENCH.parents[1]
    assert BENCH_MODULE.preflight([mutant]) == []
    assert mutant.original != mutant.replacement
    for test in mutant.tests:
        assert (root / test).exists(), test
