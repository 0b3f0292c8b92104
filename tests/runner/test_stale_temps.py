"""Temporaries a killed run left behind: the next run removes its own, and nothing else."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from wanform.runner.cli import main
from wanform.runner.files.atomic import AtomicFile, remove_stale_temps
from wanform.runner.reports.history import runs_dir

RECIPE = "model: wan2.7-image\nprompt: A fox.\ninputs:\n  - path: images/portrait.png\nn: 1\n"
NOWHERE = "http://127.0.0.1:9/api/v1"  # refuses connections: the run stops before any file


def killed(path):
    """The temporary AtomicFile leaves for `path` when the process dies before commit."""
    temp = AtomicFile(path)
    temp.file.close()
    return temp.temp


def run(*args):
    env = {"DASHSCOPE_API_KEY": None, "DASHSCOPE_HTTP_BASE_URL": None}
    return CliRunner().invoke(main, ["run", *args], env=env, catch_exceptions=False)


def test_only_wanform_temporaries_of_the_named_files_go(tmp_path):
    """In a folder every temporary goes; beside a file only that file's; other names stay."""
    stale, lock = killed(tmp_path / "a" / "x-0.png"), killed(tmp_path / "wanform.lock")
    other = killed(tmp_path / "notes.txt")
    kept = [tmp_path / "a" / ".notes.part", tmp_path / "a" / "x-0.png.abcd1234.part"]
    for path in kept:
        path.write_bytes(b"")
    removed = remove_stale_temps([tmp_path / "a"], [tmp_path / "wanform.lock"])
    assert sorted(removed) == sorted([stale, lock])
    assert other.exists() and all(path.exists() for path in kept)


def test_a_run_removes_what_a_killed_run_left_in_out(project, monkeypatch):
    """`run` deletes the temporaries of its output folder, lock and run summaries (a run killed
    as it wrote its summary left one there: soak seed 7 on CI), and says so in one notice."""
    monkeypatch.chdir(project.root)
    project.recipe("fox", RECIPE)
    stale = [
        killed(project.root / "out" / "fox" / "fox-0.png"),
        killed(project.root / "wanform.lock"),
        killed(runs_dir(project.root) / "run-2026-12-02T021523.854590Z-2051.json"),
    ]
    elsewhere = killed(project.root / "images" / "portrait.png")
    result = run("fox.yaml", "--target", NOWHERE)
    assert not any(path.exists() for path in stale) and elsewhere.exists()
    assert "notice: removed 3 stale temporary file(s) of a killed run\n" in result.stderr


def test_a_run_that_cannot_take_the_guard_removes_nothing(project, monkeypatch):
    """While another process holds the run guard its temporaries may be live: none is touched."""
    monkeypatch.chdir(project.root)
    project.recipe("fox", RECIPE)
    live = killed(project.root / "out" / "fox" / "fox-0.png")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom wanform.runner.engine.guard import run_guard\n"
            "with run_guard('.'):\n    print('held', flush=True)\n    time.sleep(60)",
        ],
        cwd=project.root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        result = run("fox.yaml", "--target", NOWHERE)
    finally:
        holder.kill()
        holder.communicate()
    assert result.exit_code == 1 and live.exists()
