"""wanform installs under one import name: the repository's spec/, runner/ and emulator/ become
wanform.spec, wanform.runner and wanform.emulator, and a user's own packages of those names stay
theirs, in a test suite where wanform's pytest plugin is active."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
PARTS = ("spec", "runner", "emulator")


def test_the_package_list_is_the_folders():
    """pyproject.toml lists every package folder, as the name it installs under."""
    tool = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    folders = {
        ".".join(["wanform", *init.parent.relative_to(REPO).parts])
        for part in PARTS
        for init in (REPO / part).rglob("__init__.py")
    }
    assert sorted(tool["setuptools"]["packages"]) == sorted({"wanform", *folders})
    assert tool["setuptools"]["package-dir"] == {
        "wanform": "package",
        **{f"wanform.{part}": part for part in PARTS},
    }


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("wanform-*.whl")
    return built


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The wheel pip builds from this checkout, once a run: pytest-xdist's workers share the first
    one's, in the run's own temporary folder (a build takes half a minute)."""
    if worker_id == "master":
        return build_wheel(tmp_path_factory.mktemp("wheel"))
    shared = tmp_path_factory.getbasetemp().parent / "wheel"
    with FileLock(f"{shared}.lock"):
        if not shared.is_dir():
            build_wheel(tmp_path_factory.mktemp("wheel")).parent.rename(shared)
    (built,) = shared.glob("wanform-*.whl")
    return built


def test_the_wheel_holds_one_top_level_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"wanform"}
    assert "wanform/spec/schemas/recipe.schema.json" in names
    assert "wanform/emulator/pytest_plugin.py" in names


USERS_TEST = """
import emulator
import runner
import spec
import wanform.spec.models


def test_both_sides_import_their_own_code(wanform_emulator):
    assert (spec.WHOSE, runner.WHOSE, emulator.WHOSE) == ("user", "user", "user")
    assert "site-packages" in wanform.spec.models.__file__
    assert wanform_emulator.base_url.startswith("http://127.0.0.1:")
"""


def test_a_users_own_spec_runner_and_emulator_stay_theirs(wheel, tmp_path):
    """The wheel in a fresh venv, beside a project with packages named like wanform's folders:
    pytest runs there with the plugin active and each side imports its own code."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True)
    # the dependencies (pytest, aiohttp, ...) come from this venv, after the new one's own
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    project = tmp_path / "project"
    for name in PARTS:
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text('WHOSE = "user"\n')
    (project / "tests").mkdir()
    (project / "tests" / "test_mine.py").write_text(textwrap.dedent(USERS_TEST))
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
