"""`wanform report` as a command: where it writes, and what it says when it cannot."""

from __future__ import annotations

import json
from pathlib import Path

from report_kit import wanform

FOX = "model: wan2.7-image\nprompt: A fox.\nn: 1\n"


def _project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "fox.yaml").write_text(FOX)
    return root


def test_report_dir_is_taken_from_the_root(tmp_path: Path) -> None:
    """`--root P --report-dir R` writes P/R/index.html, whatever the current directory."""
    root = _project(tmp_path / "project")
    done = wanform(tmp_path, "report", "--root", "project", "--report-dir", "r2", "project/recipes")
    assert (root / "r2" / "index.html").is_file()
    assert "1 jobs" in done.stdout and not (tmp_path / "report").exists()


def test_a_damaged_lock_is_named(tmp_path: Path) -> None:
    """A lock that is not JSON exits 1 naming it and its line, without a traceback."""
    root = _project(tmp_path)
    (root / "wanform.lock").write_text('{"version": 1,\n  "jobs": {\n<<<<<<< HEAD\n')
    done = wanform(root, "report", check=1)
    assert "wanform.lock:3:1" in done.stderr and "Traceback" not in done.stderr


def test_a_lock_path_outside_the_project_is_refused(tmp_path: Path) -> None:
    """A lock whose output path leads out of the project is refused, nothing read."""
    root = _project(tmp_path / "p")
    (root / "wanform.lock").write_text(
        '{"version": 1, "jobs": {"recipes/fox.yaml::fox": {"outputs": '
        '[{"path": "../../etc/passwd", "sha256": "sha256:00"}]}}}'
    )
    done = wanform(root, "report", check=1)
    assert "outside the project" in done.stderr
    assert not (root / "report").exists()


def test_the_report_judges_the_lock_against_the_target_given(ran: Path) -> None:
    """`report --target` plans as a run on that target would: a job the lock records as made on
    another target is changed, and says which."""
    lock = json.loads((ran / "wanform.lock").read_text())["jobs"]
    (url,) = {entry["target"] for entry in lock.values()}
    moved = f"target: {url} -> dashscope:cn-beijing"
    assert moved not in wanform(ran, "report", "-o", "markdown", "--target", url).stdout
    there = wanform(ran, "report", "-o", "markdown", "--target", "dashscope").stdout
    assert there.count(moved) == len(lock)


def test_a_damaged_sidecar_is_passed_over(tmp_path: Path) -> None:
    """A sidecar whose timings are not an object is read as no sidecar: the report is written,
    with the parameters the recipe would send, and no traceback."""
    root = _project(tmp_path)
    (root / "out" / "fox").mkdir(parents=True)
    (root / "out" / "fox" / "fox.json").write_text('{"version": 1, "timings": "x"}')
    entry = {"sidecar": "out/fox/fox.json"}
    (root / "wanform.lock").write_text(
        json.dumps({"version": 1, "jobs": {"recipes/fox.yaml::fox": entry}})
    )
    done = wanform(root, "report", "-o", "markdown", check=None)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "recipes/fox.yaml::fox" in done.stdout
