"""The plan cache: a no-change plan is served without validating, says exactly what the full plan
says, and any change to what a fingerprint depends on takes the full plan again."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from runner_kit import FOX, WINTER, make_project, run_cli

from wanform.runner.cli import gitops as cli_gitops
from wanform.runner.cli import main
from wanform.runner.exits import Exit

CAT = """\
model: wan2.7-image
prompt: Put a hat on the cat.
seed: 7
inputs:
  - path: ../images/cat.png
"""


def plan(root: Path, monkeypatch, *, warm: bool) -> tuple[int, str, str]:
    """`wanform plan -o json` in-process; with `warm`, validating fails the test, so the answer
    must come from the cache."""
    monkeypatch.chdir(root)
    if warm:

        def refuse(*_args, **_kwargs):
            raise AssertionError("the warm plan validated the recipes")

        monkeypatch.setattr(cli_gitops, "validated", refuse)
    args = ["plan", "-o", "json", "-v", "--target", "emulator"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    monkeypatch.undo()
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def ran_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project of a recipe with a local image (and a warning: n omitted) and a two-step chain,
    run once for the module."""
    root = make_project(tmp_path_factory.mktemp("ran")).root
    (root / "recipes").mkdir()
    Image.new("RGB", (320, 240), "orange").save(root / "images" / "cat.png")
    (root / "recipes" / "cat.yaml").write_text(CAT)
    (root / "recipes" / "fox.yaml").write_text(FOX.format(n=1))
    (root / "recipes" / "winter.yaml").write_text(WINTER)
    run = run_cli(root, "run", "--target", "emulator", "--emulator-speed", "200")
    code, _, err = asyncio.run(run)
    assert code == Exit.OK, err
    return root


@pytest.fixture
def ran(ran_once: Path, tmp_path: Path) -> Path:
    """A copy of that project, the test's own to change."""
    return Path(shutil.copytree(ran_once, tmp_path / "ran", symlinks=True))


def test_a_no_change_plan_is_served_warm_and_says_what_the_full_plan_says(ran, monkeypatch):
    full = plan(ran, monkeypatch, warm=False)
    assert (ran / ".wanform" / "plans.json").is_file()
    warm = plan(ran, monkeypatch, warm=True)
    assert warm == full
    code, out, err = warm
    assert code == Exit.OK
    assert {j["status"] for j in json.loads(out)["jobs"]} == {"unchanged"}
    assert "warning[n-omitted]" in err and "recipes/cat.yaml:1:8" in err


def _touch_image(root: Path) -> None:
    Image.new("RGB", (320, 240), "navy").save(root / "images" / "cat.png")


def _add_default(root: Path) -> None:
    (root / "wanform.yaml").write_text("defaults:\n  watermark: true\n")


def _edit_recipe(root: Path) -> None:
    path = root / "recipes" / "cat.yaml"
    path.write_text(path.read_text().replace("seed: 7", "seed: 8"))


def _modify_upstream_output(root: Path) -> None:
    lock = json.loads((root / "wanform.lock").read_text())
    entry = next(e for e in lock["jobs"].values() if e["job"] == "fox")
    made = root / entry["outputs"][0]["path"]
    Image.new("RGB", (64, 64), "black").save(made, format="PNG")


def _age(root: Path) -> None:
    """Give the files a known old mtime, so a rewrite within the same clock tick still differs."""
    for path in root.rglob("*"):
        if path.is_file() and ".wanform" not in path.parts:
            os.utime(path, ns=(1_000_000_000, 1_000_000_000))


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        (_touch_image, {"recipes/cat.yaml::cat"}),
        (
            _add_default,
            {"recipes/cat.yaml::cat", "recipes/fox.yaml::fox", "recipes/winter.yaml::winter"},
        ),
        (_edit_recipe, {"recipes/cat.yaml::cat"}),
        (_modify_upstream_output, {"recipes/fox.yaml::fox", "recipes/winter.yaml::winter"}),
    ],
)
def test_a_change_to_what_a_fingerprint_depends_on_is_never_served_stale(
    ran, monkeypatch, change, changed
):
    _age(ran)
    assert plan(ran, monkeypatch, warm=False)[0] == Exit.OK
    assert plan(ran, monkeypatch, warm=True)[0] == Exit.OK  # the cache holds every recipe
    change(ran)
    code, out, err = plan(ran, monkeypatch, warm=False)
    assert code == Exit.OK, err
    jobs = {j["key"]: j["status"] for j in json.loads(out)["jobs"]}
    assert {key for key, status in jobs.items() if status == "changed"} == changed


@pytest.mark.parametrize(
    "content", [b"not json", b"[]", b'{"context": null}', b"{}", b'{"recipes": {"x": 1}}']
)
def test_a_cache_file_not_of_our_making_is_ignored(ran, monkeypatch, content):
    plan(ran, monkeypatch, warm=False)
    path = ran / ".wanform" / "plans.json"
    held = json.loads(path.read_text())
    path.write_bytes(content)
    code, out, _ = plan(ran, monkeypatch, warm=False)
    assert code == Exit.OK
    assert {j["status"] for j in json.loads(out)["jobs"]} == {"unchanged"}
    held["recipes"]["recipes/cat.yaml"]["jobs"] = [{"key": 1}]  # same context, broken entry
    path.write_text(json.dumps(held))
    assert plan(ran, monkeypatch, warm=False)[0] == Exit.OK
