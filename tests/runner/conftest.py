"""Fixtures for the runner tests: a scratch project, emulators on real sockets, quick retries."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import stamina

# --import-mode=importlib puts no test directory on sys.path; the helper module sits beside this.
sys.path.insert(0, str(Path(__file__).parent))
from runner_kit import Emulator, Project, make_project, start_emulator  # noqa: E402


@pytest.fixture(autouse=True)
def quick_retries():
    """Backoff off and four attempts per operation, as stamina's test mode gives them."""
    with stamina.set_testing(True, attempts=4):
        yield


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path)


@pytest.fixture
async def emulators():
    """Start emulators with any settings; all are stopped after the test."""
    started: list[Emulator] = []

    async def make(**settings) -> Emulator:
        emulator = await start_emulator(**settings)
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        await emulator.runner.cleanup()
