"""Fixtures for the emulator tests: an emulator on a real socket, its clock frozen; its client."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wanform.emulator import EmulatorConfig, create_app

# The suite runs with --import-mode=importlib, which puts no test directory on sys.path; the test
# modules here share request builders and a client through the helper module beside this file.
sys.path.insert(0, str(Path(__file__).parent))
from emulator_api import Api  # noqa: E402


@pytest.fixture
def config() -> EmulatorConfig:
    """A frozen clock: time moves only when a test advances it; input URLs on loopback are
    fetched (tests serve images from 127.0.0.1)."""
    return EmulatorConfig(speed=0, port=0, loopback_inputs=True)


@pytest.fixture
async def api(aiohttp_client, config: EmulatorConfig) -> Api:
    return Api(await aiohttp_client(create_app(config)))


@pytest.fixture
def make_api(aiohttp_client):
    """Start another emulator with its own configuration."""

    async def make(**settings) -> Api:
        return Api(
            await aiohttp_client(
                create_app(
                    EmulatorConfig(**{"speed": 0, "port": 0, "loopback_inputs": True, **settings})
                )
            )
        )

    return make
