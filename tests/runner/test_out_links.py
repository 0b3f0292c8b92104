"""The folders a run writes in stay in the project: a symlink that leads the output folder, a
recipe's folder or the run's state out of it stops the run before anything is sent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from runner_kit import make_project, run_cli

FOX = "model: wan2.7-image\nprompt: A red fox.\nn: 1\ninputs:\n  - path: images/portrait.png\n"
FAST = ("--target", "emulator", "--emulator-speed", "200")


def project(tmp_path: Path) -> Path:
    """tmp_path/project with fox.yaml, beside a file (tmp_path/victim.txt) that must survive."""
    root = tmp_path / "project"
    root.mkdir()
    make_project(root).recipe("fox", FOX)
    (tmp_path / "victim.txt").write_text("keep")
    return root


def refused(code: int, err: str, link: str) -> None:
    """The run exited 1 with one line naming `link`, before sending anything."""
    assert (code, err.count("\n")) == (1, 1), err
    assert err.startswith(f"error: {link} is a symbolic link out of the project"), err
    assert err.endswith("nothing was sent\n"), err


async def test_an_out_link_to_the_parent_stops_the_run(tmp_path):
    """`out -> ..` with an orphan recording `out/victim.txt` (its true sha256): `run --prune`
    refuses naming `out`, writes nothing beside the project and deletes nothing there."""
    root = project(tmp_path)
    (root / "out").symlink_to("..")
    digest = "sha256:" + hashlib.sha256(b"keep").hexdigest()
    entry = {"outputs": [{"index": 1, "path": "out/victim.txt", "sha256": digest}]}
    (root / "wanform.lock").write_text(
        json.dumps({"version": 1, "jobs": {"gone.yaml::gone": entry}})
    )
    code, _, err = await run_cli(root, "run", "--prune", *FAST, "fox.yaml")
    refused(code, err, "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project", "victim.txt"]
    assert (tmp_path / "victim.txt").read_text() == "keep"
    assert not (root / ".wanform" / "journal.jsonl").exists()


async def test_a_recipe_folder_linked_out_stops_the_run(tmp_path):
    """`out/fox -> ../../elsewhere` is named, and no image lands in elsewhere."""
    root = project(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (root / "out").mkdir()
    (root / "out" / "fox").symlink_to("../../elsewhere")
    code, _, err = await run_cli(root, "run", *FAST, "fox.yaml")
    refused(code, err, "out/fox")
    assert list((tmp_path / "elsewhere").iterdir()) == []


async def test_a_state_folder_linked_out_is_not_swept(tmp_path):
    """`.wanform/runs` linked out of the project stops the run; the temporary-looking file there
    is not deleted as a stale one."""
    root = project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    looks_stale = elsewhere / ".notes.json.abcd1234.part"
    looks_stale.write_text("keep")
    (root / ".wanform").mkdir()
    (root / ".wanform" / "runs").symlink_to(elsewhere)
    code, _, err = await run_cli(root, "run", *FAST, "fox.yaml")
    refused(code, err, ".wanform/runs")
    assert [p.name for p in elsewhere.iterdir()] == [looks_stale.name]


async def test_a_link_that_stays_in_the_project_is_followed(tmp_path):
    """`out -> build/images` is inside the project: the run writes there."""
    root = project(tmp_path)
    (root / "build" / "images").mkdir(parents=True)
    (root / "out").symlink_to("build/images")
    code, _, err = await run_cli(root, "run", *FAST, "fox.yaml")
    assert code == 0, err
    assert (root / "build" / "images" / "fox" / "fox-1.png").is_file()


async def test_an_out_given_outside_keeps_its_recipe_folders_in_it(tmp_path):
    """An --out outside the project is the user's choice, but its `fox -> ../elsewhere` is
    refused: the recipe folders stay in the output folder."""
    root = project(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "fox").symlink_to("../elsewhere")
    code, _, err = await run_cli(root, "run", *FAST, "--out", str(tmp_path / "pics"), "fox.yaml")
    assert (code, err.count("\n")) == (1, 1), err
    assert err.startswith("error: fox is a symbolic link out of the output folder"), err
    assert list((tmp_path / "elsewhere").iterdir()) == []


async def test_an_out_link_to_itself_is_refused_in_one_line(tmp_path):
    """`out -> out` (a loop, which resolves nowhere) is named like a link out, not a traceback."""
    root = project(tmp_path)
    (root / "out").symlink_to("out")
    code, _, err = await run_cli(root, "run", *FAST, "fox.yaml")
    refused(code, err, "out")


async def test_result_names_linked_out_are_replaced_not_followed(tmp_path):
    """An image or sidecar name that is a symlink to a file outside is replaced by the result;
    the file it pointed to is untouched."""
    root = project(tmp_path)
    (root / "out" / "fox").mkdir(parents=True)
    for name in ("fox-1.png", "fox.json"):
        (root / "out" / "fox" / name).symlink_to(tmp_path / "victim.txt")
    code, _, err = await run_cli(root, "run", *FAST, "fox.yaml")
    assert code == 0, err
    assert (tmp_path / "victim.txt").read_text() == "keep"
    for name in ("fox-1.png", "fox.json"):
        assert not (root / "out" / "fox" / name).is_symlink()
