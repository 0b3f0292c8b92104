"""The output folder belongs to the project: a relative --out, and its default, start at --root."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from runner_kit import KEY, REPO

from wanform.emulator import EmulatorConfig
from wanform.emulator.pytest_plugin import EmulatorThread
from wanform.runner.cli import main

RECIPE = "model: wan2.7-image\nprompt: A fox.\ninputs:\n  - path: images/portrait.png\nn: 1\n"


@pytest.fixture(scope="module")
def fast():
    thread = EmulatorThread(EmulatorConfig(port=0, speed=100))
    yield thread.start()
    thread.stop()


def project(where):
    """A project with one recipe, fox.yaml, and the example images."""
    shutil.copytree(REPO / "recipes" / "images", where / "images")
    (where / "fox.yaml").write_text(RECIPE)
    return where


def run(base: str, root: str, *args: str) -> None:
    """Run ROOT/fox.yaml with a key of the project's own: projects sharing a key see each other's
    tasks, which a project new to the key does not pay past."""
    own = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:12]
    env = {"DASHSCOPE_API_KEY": f"{KEY}-{own}", "DASHSCOPE_HTTP_BASE_URL": None}
    argv = ["run", "--root", root, f"{root}/fox.yaml", "--target", base, *args]
    result = CliRunner().invoke(main, argv, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr


def test_two_roots_run_from_one_folder_keep_their_own_images(tmp_path, monkeypatch, fast):
    """Each project's images land in ROOT/out, none in the current directory's out/."""
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        project(tmp_path / name)
        run(fast, name, "--emulator-speed", "100")
    assert (tmp_path / "a" / "out" / "fox" / "fox-1.png").is_file()
    assert (tmp_path / "b" / "out" / "fox" / "fox-1.png").is_file()
    assert not (tmp_path / "out").exists()


def test_a_relative_out_is_taken_from_the_root(tmp_path, monkeypatch, fast):
    """`--out pics` with `--root a` writes a/pics; an absolute --out stays where it points."""
    monkeypatch.chdir(tmp_path)
    project(tmp_path / "a")
    run(fast, "a", "--out", "pics", "--emulator-speed", "100")
    run(fast, "a", "--out", str(tmp_path / "elsewhere"), "--force", "--emulator-speed", "100")
    assert (tmp_path / "a" / "pics" / "fox" / "fox-1.png").is_file()
    assert (tmp_path / "elsewhere" / "fox" / "fox-1.png").is_file()
    assert not (tmp_path / "pics").exists()
