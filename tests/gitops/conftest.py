"""Fixtures for the GitOps tests: the runner tests' project and emulator helpers; github_steps for
the workflow and action tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "runner"))
sys.path.insert(0, str(Path(__file__).parent))  # github_steps
from runner_kit import Emulator, make_project, start_emulator  # noqa: E402


@pytest.fixture
async def emulator():
    """One emulator on a real socket, fast enough that a handful of jobs end in a second or two."""
    started: Emulator = await start_emulator(speed=200.0)
    yield started
    await started.runner.cleanup()


@pytest.fixture
def project(tmp_path: Path):
    return make_project(tmp_path)
