"""Fixtures for the report tests: a project run once against an emulator with faults, Chromium."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

# --import-mode=importlib puts no test directory on sys.path; the helper module sits beside this.
sys.path.insert(0, str(Path(__file__).parent))
from report_kit import (  # noqa: E402
    CHROMIUM,
    NO_CHROMIUM,
    EmulatorProcess,
    git,
    make_project,
    make_showcase,
    wanform,
)


@pytest.fixture(scope="session")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose run made a complete, a partial and a failed job, then its report."""
    root = make_project(tmp_path_factory.mktemp("report"))
    with EmulatorProcess("--speed", "50", "--scenario", str(root / "scenario.yaml")) as emulator:
        wanform(root, "run", "--target", emulator.base_url, "--emulator-speed", "50", check=3)
    wanform(root, "report")
    return root


@pytest.fixture(scope="session")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The showcase recipes run on the embedded emulator and committed; then the scene's seed
    and the vase photo changed: `report/` is the report, `plan/` the `--plan` one."""
    root = make_showcase(tmp_path_factory.mktemp("showcase"))
    wanform(root, "run", "--emulator-speed", "100")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first run")
    scene = root / "recipes" / "chains" / "scene-1-generate.yaml"
    scene.write_text(scene.read_text(encoding="utf-8").replace("seed: 11", "seed: 12"))
    vase = root / "recipes" / "images" / "table-vase.png"
    with Image.open(vase) as im:
        im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(vase)
    wanform(root, "report")
    wanform(root, "report", "--plan", "--report-dir", "plan")
    return root


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through Playwright; skipped where there is none.

    Per module, not per session: Playwright's sync API keeps its event loop marked running in
    this thread while it is open, and the async tests of later modules need that thread free.
    """
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="playwright is not installed: pip install '.[test,browser]' brings it",
    )
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A page that records console errors and uncaught exceptions; the test fails on any."""
    opened = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.errors = errors
    yield opened
    opened.close()
    assert errors == []
