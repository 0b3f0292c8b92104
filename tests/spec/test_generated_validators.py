"""Schema checks run the committed, generated validators: nothing is compiled at run time, and
no code is stored in or loaded from a folder the user (or a CI cache) can write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_validate_keeps_no_cache(tmp_path: Path) -> None:
    """`wanform validate` on a recipe with a mistake (so the generated check and jsonschema both
    run) writes nothing into the home folder or $XDG_CACHE_HOME."""
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    cache.mkdir()
    recipe = tmp_path / "fox.yaml"
    recipe.write_text("model: wan2.6-image\nprompt: a fox\nn: 99\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "wanform.runner.cli", "validate", str(recipe)],
        cwd=tmp_path,
        env={**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(cache)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "fox.yaml:3:" in done.stdout, done.stdout + done.stderr
    assert (list(home.iterdir()), list(cache.iterdir())) == ([], [])
