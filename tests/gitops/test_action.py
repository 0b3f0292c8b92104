"""The GitHub Action (`action.yml`): its own steps install wanform from the action's checkout."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
import tomllib
from pathlib import Path

import yaml
from github_steps import bash, git, github_env

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_action_installs_wanform_from_its_own_checkout(tmp_path: Path):
    """The action's steps, with its checkout (this repository's files) at GITHUB_ACTION_PATH,
    install that checkout's wanform into a venv of their own and put its `bin` on the job's PATH.
    PIP_NO_DEPS keeps the install quick: the installed wanform then runs with this venv's packages
    as its dependencies."""
    manifest = yaml.safe_load((ROOT / "action.yml").read_text())
    action = tmp_path / "action"
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # a file deleted in the working copy is no part of it
            (action / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, action / name)
    workspace = tmp_path / "workspace"  # where each step runs: no package of this tree in sight
    workspace.mkdir()
    env = {**github_env(workspace), "GITHUB_ACTION_PATH": str(action)}
    inputs = {f"inputs.{k}": v["default"] for k, v in manifest["inputs"].items()}
    assert manifest["runs"]["using"] == "composite"
    for run in manifest["runs"]["steps"]:
        assert "uses" not in run and run["shell"] == "bash"
        args = bash(run, env, inputs)
        done = subprocess.run(
            args, cwd=workspace, env={**env, "PIP_NO_DEPS": "1"}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    runner = Path(env["RUNNER_TEMP"])
    venv_bin = Path((runner / "github_path").read_text().strip())
    assert venv_bin.parent.parent == runner
    assert (runner / "github_output").read_text() == f"version={VERSION}\n"
    done = subprocess.run(
        [venv_bin / "python", "-c", SHOW_INSTALL], cwd=workspace, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()
    location, url = done.stdout.decode().split()
    assert Path(location).is_relative_to(venv_bin.parent) and url == action.as_uri()
    deps = {**env, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    version = subprocess.run(
        [venv_bin / "wanform", "--version"], cwd=workspace, env=deps, capture_output=True
    )
    assert version.stdout.decode() == f"wanform, version {VERSION}\n", version.stderr


# where the installed `wanform.runner` package is, and where pip installed the distribution from
SHOW_INSTALL = """
import json
from importlib.metadata import distribution
from wanform import runner
print(runner.__file__)
print(json.loads(distribution("wanform").read_text("direct_url.json"))["url"])
"""
