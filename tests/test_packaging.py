"""wanform installs under one import name: the repository's spec/, runner/ and emulator/ become
wanform.spec, wanform.runner and wanform.emulator, and a user's own packages of those names stay
theirs, in a test suite where wanform's pytest plugin is active. What it imports, it declares."""

from __future__ import annotations

import ast
import importlib.metadata
import re
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
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# imported only by the pytest plugin, inside the user's own pytest session (dashscope only when
# that session has it)
HOSTS_OWN = {"pytest", "dashscope"}


def distribution(requirement: str) -> str:
    """The normalised distribution name of a requirement such as `PyYAML>=6.0`."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]).lower()


def top_level_imports(path: Path) -> set[str]:
    """The first part of every absolute module name `path` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_imported_distribution_is_declared():
    """Each third-party module wanform's code imports belongs to a declared dependency, even one
    another dependency brings along (yarl, which aiohttp requires, is imported directly)."""
    declared = {distribution(r) for r in PROJECT["dependencies"]}
    owners = importlib.metadata.packages_distributions()
    imported = {
        name
        for folder in (*PARTS, "package")
        for path in (REPO / folder).rglob("*.py")
        for name in top_level_imports(path)
    }
    third_party = imported - set(sys.stdlib_module_names) - {"wanform", "__future__", *HOSTS_OWN}
    undeclared = {
        name: owners.get(name)
        for name in sorted(third_party)
        if not declared & {distribution(d) for d in owners.get(name, [name])}
    }
    assert undeclared == {}


def test_lint_tools_are_pinned():
    """ruff and mypy are pinned exactly: a new release's rules cannot fail unchanged code."""
    pinned = {
        r.split("==")[0].lower() for r in PROJECT["optional-dependencies"]["lint"] if "==" in r
    }
    assert {"ruff", "mypy"} <= pinned


def test_playwright_is_its_own_extra():
    """`.[test]` installs no browser driver (the browser tests then skip, saying why); the
    `browser` extra does, and CI installs it with the others."""
    extras = PROJECT["optional-dependencies"]
    assert "playwright" not in {distribution(r) for r in extras["test"]}
    assert "playwright" in {distribution(r) for r in extras["browser"]}
    assert "'.[test,lint,browser]'" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


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
    assert "wanform/spec/validators/recipe.py" in names
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


def installed(wheel: Path, tmp_path: Path) -> Path:
    """The python of a fresh venv holding the wheel, its dependencies taken from this one's."""
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
    return python


def test_a_users_own_spec_runner_and_emulator_stay_theirs(wheel, tmp_path):
    """The wheel in a fresh venv, beside a project with packages named like wanform's folders:
    pytest runs there with the plugin active and each side imports its own code."""
    python = installed(wheel, tmp_path)
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


@pytest.mark.slow
def test_the_installed_wheel_makes_a_project_that_validates(wheel, tmp_path):
    """`wanform init` from the wheel, far from this checkout, writes a project (schemas and
    example image included) that `wanform validate` passes."""
    python = installed(wheel, tmp_path)
    wanform = [str(python), "-m", "wanform.runner.cli"]
    run = {"capture_output": True, "text": True, "timeout": 120, "check": False}
    made = subprocess.run([*wanform, "init", "new"], cwd=tmp_path, **run)
    assert made.returncode == 0, made.stderr
    checked = subprocess.run([*wanform, "validate"], cwd=tmp_path / "new", **run)
    assert (checked.returncode, checked.stdout) == (
        0,
        "ok: 1 recipes (1 jobs), 0 invalid, 0 errors, 0 warnings\n",
    ), checked.stderr
    assert sorted(p.name for p in (tmp_path / "new/schemas").iterdir()) == [
        "project.schema.json",
        "recipe.schema.json",
    ]
