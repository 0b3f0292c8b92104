"""`run --prune` deletes only what wanform wrote: a file inside the output folder whose bytes still
match the sha256 the lock recorded. Everything else an orphaned entry names is listed and kept."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from runner_kit import make_project, run_cli

from wanform.runner.gitops.lockfile import LockFile
from wanform.runner.gitops.plan import Plan, PlannedJob
from wanform.runner.gitops.project import prune

FOX = "model: wan2.7-image\nprompt: A red fox.\nn: 1\ninputs:\n  - path: ../images/portrait.png\n"
FAST = ("--target", "emulator", "--emulator-speed", "200")
PROJECT_FILES = ["src/important.py", ".git/HEAD", "recipes/a.yaml", "wanform.yaml"]


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def project_with_recipe(root: Path) -> None:
    """A project file, recipes/a.yaml, a source file and a git HEAD: what prune must not touch."""
    make_project(root)
    (root / "wanform.yaml").write_text("recipes: [recipes/*.yaml]\n")
    (root / "recipes").mkdir()
    (root / "recipes" / "a.yaml").write_text(FOX)
    (root / "src").mkdir()
    (root / "src" / "important.py").write_text("print('keep me')\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")


async def test_prune_keeps_the_project_files_an_orphan_names(tmp_path):
    """An orphan recording five project files, each with its true sha256, deletes none: they are
    not in the output folder; each is named as kept."""
    project_with_recipe(tmp_path)
    named = [*PROJECT_FILES, "images/portrait.png"]
    before = {path: (tmp_path / path).read_bytes() for path in named}
    outputs = [{"index": i, "path": p, "sha256": sha(tmp_path / p)} for i, p in enumerate(named)]
    entry = {"recipe": "recipes/gone.yaml", "job": "gone", "outputs": outputs}
    (tmp_path / "wanform.lock").write_text(
        json.dumps({"version": 1, "jobs": {"recipes/gone.yaml::gone": entry}})
    )
    code, _, err = await run_cli(tmp_path, "run", "--prune", *FAST)
    assert code == 0, err
    assert {path: (tmp_path / path).read_bytes() for path in named} == before
    for path in named:
        assert f"notice: kept {path}: not in the output folder" in err
    assert "pruned" not in err
    lock = json.loads((tmp_path / "wanform.lock").read_text())
    assert list(lock["jobs"]) == ["recipes/a.yaml::a"]


async def test_prune_deletes_unchanged_outputs_and_keeps_edited_ones(tmp_path):
    """A removed recipe's untouched image and sidecar go; its image edited since is kept, named."""
    project_with_recipe(tmp_path)
    (tmp_path / "recipes" / "gone.yaml").write_text(FOX.replace("n: 1", "n: 2"))
    code, _, err = await run_cli(tmp_path, "run", *FAST)
    assert code == 0, err
    gone = tmp_path / "out" / "gone"
    assert sorted(p.name for p in gone.iterdir()) == ["gone-1.png", "gone-2.png", "gone.json"]
    (gone / "gone-2.png").write_bytes(b"my own picture now")
    (tmp_path / "recipes" / "gone.yaml").unlink()
    code, _, err = await run_cli(tmp_path, "run", "--prune", *FAST)
    assert code == 0, err
    assert [p.name for p in gone.iterdir()] == ["gone-2.png"]
    assert "notice: pruned out/gone/gone-1.png\n" in err
    assert "notice: pruned out/gone/gone.json\n" in err
    assert "notice: kept out/gone/gone-2.png: its bytes are not the ones wanform wrote\n" in err
    assert (tmp_path / "out" / "a" / "a-1.png").is_file()


async def test_prune_keeps_a_link_in_the_output_folder(tmp_path):
    """An output the lock records that is now a symlink to a project file is kept, and so is the
    file it points to."""
    project_with_recipe(tmp_path)
    (tmp_path / "recipes" / "gone.yaml").write_text(FOX)
    code, _, err = await run_cli(tmp_path, "run", *FAST)
    assert code == 0, err
    image = tmp_path / "out" / "gone" / "gone-1.png"
    target = tmp_path / "src" / "copy.png"
    target.write_bytes(image.read_bytes())  # the same bytes: only the link rule keeps it
    image.unlink()
    image.symlink_to(target)
    (tmp_path / "recipes" / "gone.yaml").unlink()
    code, _, err = await run_cli(tmp_path, "run", "--prune", *FAST)
    assert code == 0, err
    assert image.is_symlink() and target.is_file()
    assert "notice: kept out/gone/gone-1.png: a symbolic link, not a file wanform wrote\n" in err


def test_prune_keeps_what_it_cannot_tell_is_its_own(tmp_path):
    """In the output folder, a folder and a sidecar an older lock kept no sha256 for are kept,
    each with its reason; a file already gone is not mentioned."""
    out = tmp_path / "out"
    (out / "gone" / "gone-1.png").mkdir(parents=True)
    (out / "gone" / "gone.json").write_text("{}")
    outputs = [
        {"index": 1, "path": "out/gone/gone-1.png", "sha256": "sha256:0"},
        {"index": 2, "path": "out/gone/gone-2.png", "sha256": "sha256:0"},
    ]
    entry = {"outputs": outputs, "sidecar": "out/gone/gone.json"}
    lock = LockFile(tmp_path / "wanform.lock", {"gone.yaml::gone": entry})
    pruned = prune(lock, Plan([PlannedJob("gone.yaml::gone", "orphaned", "")]), tmp_path, out)
    assert (pruned.removed, pruned.kept) == (
        [],
        [
            ("out/gone/gone-1.png", "not a file"),
            ("out/gone/gone.json", "the lock records no sha256 for it"),
        ],
    )


async def test_a_job_rerun_to_make_fewer_images_has_its_extra_ones_pruned(tmp_path):
    """n: 2 -> n: 1: the lock forgets image 2, so it would stay in `out` for good; a plain run
    says it is left, a --prune run deletes it while it is still what wanform wrote."""
    project_with_recipe(tmp_path)
    recipe = tmp_path / "recipes" / "a.yaml"
    recipe.write_text(FOX.replace("n: 1", "n: 2"))
    assert (await run_cli(tmp_path, "run", *FAST))[0] == 0
    made = tmp_path / "out" / "a"
    assert sorted(p.name for p in made.iterdir()) == ["a-1.png", "a-2.png", "a.json"]
    recipe.write_text(FOX.replace("n: 1", "n: 1\nseed: 5"))
    code, _, err = await run_cli(tmp_path, "run", *FAST)
    assert code == 0, err
    assert "notice: left out/a/a-2.png: its job no longer makes it" in err
    recipe.write_text(FOX.replace("n: 1", "n: 2"))
    assert (await run_cli(tmp_path, "run", *FAST))[0] == 0
    recipe.write_text(FOX.replace("n: 1", "n: 1\nseed: 6"))
    code, _, err = await run_cli(tmp_path, "run", "--prune", *FAST)
    assert code == 0, err
    assert "notice: pruned out/a/a-2.png\n" in err
    assert sorted(p.name for p in made.iterdir()) == ["a-1.png", "a.json"]
    (output,) = json.loads((tmp_path / "wanform.lock").read_text())["jobs"]["recipes/a.yaml::a"][
        "outputs"
    ]
    assert output["path"] == "out/a/a-1.png"
