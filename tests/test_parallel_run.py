"""The suite as the README's command runs it, in parallel with pytest-xdist: what only the main
process does still happens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONE_TEST = "tests/test_startup.py::test_every_command_is_listed"


def test_a_parallel_run_names_the_screenshot_folder_at_its_end(tmp_path: Path):
    """Under `-n`, the summary printed at the end of the run names the screenshot folder."""
    folder = tmp_path / "wanform-screenshots"
    folder.mkdir()
    (folder / "report.png").write_bytes(b"")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}  # ours, not its
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "1", ONE_TEST],
        cwd=REPO,
        env={**env, "WANFORM_SCREENSHOTS": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"screenshots of the report and the dashboard: {folder}" in done.stdout.splitlines()
