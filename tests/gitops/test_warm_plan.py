"""The plan cache: a no-change plan is served without validating, says exactly what the full plan
says, and any change to what a fingerprint depends on takes the full plan again."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from runner_kit import FOX, WINTER, make_project, run_cli

from wanform.runner.app import planning, validating
from wanform.runner.cli import main
from wanform.runner.exits import Exit
from wanform.runner.gitops import warmplan

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

        monkeypatch.setattr(validating, "valid", refuse)
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


def _edit_entry(root: Path, recipe: str, edit) -> None:
    """Apply `edit` to the held entry of `recipe` (a file name under recipes/), leaving the
    header (its context and checksum) as the cache wrote it."""
    path = root / ".wanform" / "plans.json"
    head, body = path.read_text().split("\n", 1)
    entries = json.loads(body)
    edit(entries[f"recipes/{recipe}"])
    path.write_text(f"{head}\n{json.dumps(entries)}\n")


@pytest.mark.parametrize(
    "content", [b"not json", b"[]", b'{"context": null}', b"{}", b'{"recipes": {"x": 1}}', b""]
)
def test_a_cache_file_not_of_our_making_is_ignored(ran, monkeypatch, content):
    plan(ran, monkeypatch, warm=False)
    path = ran / ".wanform" / "plans.json"
    head = path.read_bytes().split(b"\n", 1)[0]
    path.write_bytes(content)
    code, out, _ = plan(ran, monkeypatch, warm=False)
    assert code == Exit.OK
    assert {j["status"] for j in json.loads(out)["jobs"]} == {"unchanged"}
    path.write_bytes(head + b"\n" + content)  # our header over another body
    assert plan(ran, monkeypatch, warm=False)[0] == Exit.OK


def _served_warm(root: Path, monkeypatch) -> bool:
    """Plan once (full if need be) and say whether the answer came from the cache."""
    calls = []
    full = validating.valid

    def counted(*args, **kwargs):
        calls.append(1)
        return full(*args, **kwargs)

    monkeypatch.setattr(validating, "valid", counted)
    code, out, err = plan(root, monkeypatch, warm=False)
    assert code == Exit.OK, err
    assert {j["status"] for j in json.loads(out)["jobs"]} == {"unchanged"}
    return not calls


# each edits the held entry of cat.yaml or of winter.yaml (the chained one)
DAMAGES = {
    "job key not a string": ("cat", lambda e: e["jobs"][0].update(key=1)),
    "no source": ("cat", lambda e: e.pop("source")),
    "inputs a list": ("cat", lambda e: e.update(inputs=[])),
    "warning of wrong types": ("cat", lambda e: e.update(warnings=[["a", "b", "c", "d"]])),
    "warning cut short": ("cat", lambda e: e.update(warnings=[[1, 8]])),
    "images cut short": ("cat", lambda e: e["jobs"][0].update(images=[1])),
    "neither digest nor body": ("cat", lambda e: e["jobs"][0].pop("digest")),
    "body not an object": ("winter", lambda e: e["jobs"][0].update(body="x")),
    "link leading nowhere": ("winter", lambda e: e["jobs"][0]["links"][0].__setitem__(0, ["no"])),
    "link image not a number": ("winter", lambda e: e["jobs"][0]["links"][0].__setitem__(2, "0")),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_cache_entry_is_a_miss(ran, monkeypatch, damage):
    """An entry changed after the cache wrote it (its context kept) is not served: the full plan
    answers."""
    assert not _served_warm(ran, monkeypatch)
    assert _served_warm(ran, monkeypatch)
    recipe, edit = DAMAGES[damage]
    _edit_entry(ran, f"{recipe}.yaml", edit)
    assert not _served_warm(ran, monkeypatch)
    assert _served_warm(ran, monkeypatch)  # the full plan refilled it


def test_an_entry_edited_in_its_own_shape_is_a_miss(ran, monkeypatch):
    """A hand edit that keeps an entry's shape (a warning's text) is not served: the cache
    serves only what it wrote."""
    assert not _served_warm(ran, monkeypatch)
    _edit_entry(ran, "cat.yaml", lambda e: e["warnings"][0].__setitem__(3, "edited"))
    assert not _served_warm(ran, monkeypatch)


def test_a_bug_in_the_warm_plan_is_raised_not_taken_for_a_cache_miss(ran, monkeypatch):
    """A TypeError in wanform's own code while recalling reaches the user as the bug it is."""
    plan(ran, monkeypatch, warm=False)

    def broken(*_args, **_kwargs):
        raise TypeError("a bug in judge")

    monkeypatch.setattr(warmplan, "judge", broken)
    with pytest.raises(TypeError, match="a bug in judge"):
        plan(ran, monkeypatch, warm=True)


def test_a_plan_leaves_nothing_frozen_from_the_collector(ran, monkeypatch):
    """A plan freezes what it made to keep the garbage collector off it, and unfreezes it all as
    it returns, full or warm, so nothing is left out of the collector's reach."""
    assert plan(ran, monkeypatch, warm=False)[0] == Exit.OK
    assert gc.get_freeze_count() == 0
    assert plan(ran, monkeypatch, warm=True)[0] == Exit.OK
    assert gc.get_freeze_count() == 0


def test_a_plan_reads_json_with_the_collector_off_and_puts_it_back(ran, monkeypatch):
    """The lock and the plan cache are read, and a warm plan's jobs made, with the cyclic
    collector off (they hold no cycles: its passes freed nothing); it is on again after, and
    stays off for a caller that had turned it off."""
    seen = []
    real_load, real_recall = planning.load_lock, warmplan.PlanCache.recall

    def load(path):
        seen.append(gc.isenabled())
        return real_load(path)

    def recall(self, *args):
        seen.append(gc.isenabled())
        return real_recall(self, *args)

    monkeypatch.setattr(planning, "load_lock", load)
    monkeypatch.setattr(warmplan.PlanCache, "recall", recall)
    assert plan(ran, monkeypatch, warm=False)[0] == Exit.OK
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        assert plan(ran, monkeypatch, warm=False)[0] == Exit.OK
        assert not gc.isenabled()
    finally:
        gc.enable()


CONTEXT = """\
from pathlib import Path
from wanform.runner.gitops.warmplan import PlanCache
from wanform.runner.recipes.load import NO_DEFAULTS
from wanform.spec.models import MODELS
print(PlanCache(Path("."), NO_DEFAULTS, MODELS).context)
"""


@pytest.mark.slow
def test_the_cache_written_by_one_process_is_read_by_the_next():
    """The cache's context is the same in processes of different hash seeds (each `wanform plan`
    is one), so a cache made by one plan serves the next."""
    contexts = {
        subprocess.run(
            [sys.executable, "-c", CONTEXT],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(contexts) == 1


def test_a_recipe_turned_into_a_link_is_planned_as_the_full_plan_plans_it(ran, monkeypatch):
    """A recipe file replaced by a link to the same bytes elsewhere is keyed by where it leads,
    as the full plan keys it, not served from the entry of the file it was."""
    assert not _served_warm(ran, monkeypatch)
    (ran / "elsewhere").mkdir()
    recipe = ran / "recipes" / "cat.yaml"
    shutil.copy(recipe, ran / "elsewhere" / "cat.yaml")
    recipe.unlink()
    recipe.symlink_to(ran / "elsewhere" / "cat.yaml")
    cached = plan(ran, monkeypatch, warm=False)
    (ran / ".wanform" / "plans.json").unlink()
    assert cached == plan(ran, monkeypatch, warm=False)
    assert '"key": "elsewhere/cat.yaml::cat"' in cached[1]
