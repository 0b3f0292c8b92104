"""Fixtures for the Python API's tests: a scratch project of one quick text-to-image job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest
import stamina

from wanform.spec.models import MODELS, ModelSpec

RECIPE = """\
model: wan2.7-image
name: fox
prompt: A red fox in fresh snow.
size: 1K
n: 1
seed: 7
"""


@pytest.fixture(autouse=True)
def quick_retries():
    """Backoff off, as stamina's test mode gives it."""
    with stamina.set_testing(True, attempts=4):
        yield


@pytest.fixture
def models() -> Mapping[str, ModelSpec]:
    """The model table with every task taking a tenth of a second, for emulator and runner."""
    return {name: replace(spec, typical_seconds=0.1) for name, spec in MODELS.items()}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project folder without wanform.yaml, one recipe in recipes/."""
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "fox.yaml").write_text(RECIPE, encoding="utf-8")
    return tmp_path
