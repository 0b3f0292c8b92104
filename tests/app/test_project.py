"""`wanform.Project`: validate, plan and run return results, raise the documented errors, and
never print or exit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import wanform
from wanform.runner.cli import main

EMULATOR = wanform.RunSettings(target="emulator", emulator_speed=50)
CLEAN_ENV = {"PATH": os.environ.get("PATH", "")}


def project(root: Path, models) -> wanform.Project:
    return wanform.Project(root, models=models, env=CLEAN_ENV)


def test_validate_returns_the_report_and_prints_nothing(root, models, capsys):
    """A valid project validates with its job; an invalid recipe is in the result, located."""
    found = project(root, models).validate()
    assert found.ok() and len(found.validation.jobs) == 1 and found.missing is None
    (root / "recipes" / "bad.yaml").write_text("model: wan2.7-image\nprompt: 3\nn: 9\n")
    found = project(root, models).validate()
    errors = found.validation.report.errors()
    assert not found.ok() and errors and errors[0].location.file.endswith("bad.yaml")
    assert errors[0].location.line > 0
    assert capsys.readouterr() == ("", "")


def test_one_path_given_as_a_string_is_one_path(root, models):
    """`validate("recipes/fox.yaml")` checks that file, not paths named by its letters."""
    found = project(root, models).validate(str(root / "recipes" / "fox.yaml"))
    assert found.ok() and found.validation.recipes == 1


def test_validate_says_where_no_recipe_was_found(tmp_path, models):
    """A project without recipes is not ok, and `missing` names where none was found."""
    (tmp_path / "recipes").mkdir()
    found = project(tmp_path, models).validate()
    assert not found.ok() and found.missing == (
        f"no recipe files (*.yaml, *.yml) under {tmp_path / 'recipes'}"
    )


def test_an_invalid_project_file_raises_project_file_error(root, models):
    """An invalid wanform.yaml raises ProjectFileError carrying its located problems."""
    (root / "wanform.yaml").write_text("recipes: 3\n", encoding="utf-8")
    with pytest.raises(wanform.ProjectFileError) as caught:
        project(root, models)
    assert caught.value.exit_code == 1 and caught.value.validation.report.errors()


def test_plan_lists_the_new_job(root, models):
    """The plan of a project never run has its one job new, pending, and billable."""
    planned = project(root, models).plan(target="emulator")
    assert planned.pending and [j.status for j in planned.plan.jobs] == ["new"]
    assert planned.plan.totals()["wan2.7-image"]["images"] == 1


def test_plan_of_invalid_recipes_raises_invalid_recipes(root, models):
    """Planning an invalid recipe raises InvalidRecipes with the report; nothing is written."""
    (root / "recipes" / "bad.yaml").write_text("model: nope\n", encoding="utf-8")
    with pytest.raises(wanform.InvalidRecipes) as caught:
        project(root, models).plan()
    assert caught.value.validation.report.errors() and not (root / "wanform.lock").exists()


def test_an_unreadable_lock_raises_lock_error(root, models):
    """A lock that is not JSON raises LockError from plan and from run, naming the file."""
    (root / "wanform.lock").write_text("{", encoding="utf-8")
    with pytest.raises(wanform.LockError, match="wanform.lock"):
        project(root, models).plan()
    with pytest.raises(wanform.LockError, match="move it away to start afresh"):
        project(root, models).run(settings=EMULATOR)


def test_run_against_the_embedded_emulator(root, models, capsys):
    """A run writes the image and the lock, returns exit 0, prints nothing; a second run has
    nothing to run and says so in its notices."""
    first = project(root, models).run(settings=EMULATOR)
    assert first.exit_code == 0 and first.result.summary()["images"] == 1
    assert (root / "out" / "fox" / "fox-1.png").is_file() and (root / "wanform.lock").is_file()
    again = project(root, models).run(settings=EMULATOR)
    assert again.result.jobs == [] and again.notices == [
        "notice: nothing to run: every job is unchanged (--force runs them anyway)"
    ]
    assert capsys.readouterr() == ("", "")


def test_progress_gets_the_events_ndjson_prints(root, models, tmp_path_factory, monkeypatch):
    """The progress callback gets the events `wanform run -o ndjson` prints, field for field
    (times and task ids aside)."""
    events: list[dict] = []
    monkeypatch.chdir(root)  # found from the current directory, as the CLI finds it
    wanform.Project(models=models, env=CLEAN_ENV).run(settings=EMULATOR, progress=events.append)
    other = tmp_path_factory.mktemp("cli")
    (other / "recipes").mkdir()
    (other / "recipes" / "fox.yaml").write_bytes((root / "recipes" / "fox.yaml").read_bytes())
    monkeypatch.chdir(other)
    ran = CliRunner().invoke(
        main, ["run", "-o", "ndjson", "--target", "emulator", "--emulator-speed", "50"], env={}
    )
    lines = [json.loads(line) for line in ran.stdout.splitlines()[:-1]]  # the report ends it
    assert _shapes(events) == _shapes(lines)


def _shapes(events: list[dict]) -> list[tuple]:
    """Each event's shape, polls that found the task still going left out: how many a run
    makes depends on how fast the machine is."""
    return [_shape(e) for e in events if e.get("task_status") not in ("PENDING", "RUNNING")]


def _shape(event: dict) -> tuple:
    """An event without what differs from run to run (an image's bytes carry its task id)."""
    varying = {"time", "task_id", "request_id", "elapsed_seconds", "finished_at", "message"}
    varying |= {"target"}  # the embedded emulator's port
    kept = {k: v for k, v in event.items() if k not in varying}
    if "images" in kept:
        kept["images"] = [{**image, "sha256": None} for image in kept["images"]]
    return tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in kept.items()))


def test_async_twins_give_the_same_results(root, models):
    """validate_async, plan_async and run_async answer as their sync twins do."""

    async def twins():
        p = project(root, models)
        return await p.validate_async(), await p.plan_async(), await p.run_async(settings=EMULATOR)

    validated, planned, ran = asyncio.run(twins())
    assert validated.ok() and planned.pending and ran.exit_code == 0


def test_run_leaves_the_callers_signal_handlers(root, models):
    """Unless asked, a run leaves SIGINT to the handler its caller had; asked, the run takes it
    over for its length."""
    seen = []

    def look(event: dict) -> None:
        if event["event"] == "run_started":
            seen.append(signal.getsignal(signal.SIGINT))

    async def both():
        before = signal.getsignal(signal.SIGINT)
        await project(root, models).run_async(settings=EMULATOR, progress=look)
        forced = wanform.RunSettings(target="emulator", emulator_speed=50, force=True)
        await project(root, models).run_async(settings=forced, progress=look, handle_signals=True)
        return before, signal.getsignal(signal.SIGINT)

    before, after = asyncio.run(both())
    assert seen[0] is before and seen[1] is not before and after is before


@pytest.mark.parametrize(
    ("settings", "error", "code"),
    [
        (wanform.RunSettings(max_images=0), wanform.OverBudget, 1),
        (wanform.RunSettings(jobs=("nope",)), wanform.UnknownJob, 2),
        (wanform.RunSettings(shard="3/2"), wanform.SettingError, 1),
        (wanform.RunSettings(target="dashscope"), wanform.SettingError, 1),
        (wanform.RunSettings(submit_rps="x"), wanform.SettingError, 1),
    ],
)
def test_refusals_raise_their_error_and_send_nothing(root, models, settings, error, code):
    """Each refusal raises its error, with `wanform run`'s exit code, before a task is sent."""
    with pytest.raises(error) as caught:
        project(root, models).run(settings=settings)
    assert caught.value.exit_code == code and not (root / ".wanform" / "journal.jsonl").exists()


def test_an_unwritable_out_raises_destination_error(root, models):
    """An `out` that is a file raises DestinationError naming --out."""
    (root / "out").write_text("", encoding="utf-8")
    with pytest.raises(wanform.DestinationError, match="--out: cannot write in"):
        project(root, models).run(settings=EMULATOR)


def test_a_symlink_out_of_the_project_raises_unsafe_link(root, models, tmp_path_factory):
    """An out folder that is a symlink leading out of the project raises UnsafeLink."""
    (root / "out").symlink_to(tmp_path_factory.mktemp("elsewhere"))
    with pytest.raises(wanform.UnsafeLink, match="nothing was sent"):
        project(root, models).run(settings=EMULATOR)


def test_a_held_guard_raises_project_busy(root, models):
    """A run while another process holds the project's run guard raises ProjectBusy."""
    hold = (
        "import sys; from wanform.runner.engine.guard import run_guard\n"
        f"with run_guard({str(root)!r}):\n    print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(wanform.ProjectBusy, match="another wanform run is using"):
            project(root, models).run(settings=EMULATOR)
    finally:
        holder.communicate("")


def test_a_journal_that_cannot_open_raises_start_error(root, models):
    """A journal that cannot be opened raises StartError: the run could not start."""
    (root / ".wanform" / "journal.jsonl").mkdir(parents=True)
    with pytest.raises(wanform.StartError, match="cannot start the run"):
        project(root, models).run(settings=EMULATOR)


def test_a_report_that_cannot_be_written_raises_record_error(root, models):
    """A JUnit report that cannot be written after the jobs ran raises RecordError (exit 4)
    carrying the run, whose images are on disk."""
    (root / "report.xml").mkdir()
    settings = wanform.RunSettings(
        target="emulator", emulator_speed=50, junit=str(root / "report.xml")
    )
    with pytest.raises(wanform.RecordError) as caught:
        project(root, models).run(settings=settings)
    assert caught.value.exit_code == 4 and caught.value.result.summary()["images"] == 1


def test_no_repr_shows_the_api_key(root, models):
    """Neither the project nor what it hands the run transaction shows the key in its repr."""
    p = wanform.Project(root, models=models, env={"DASHSCOPE_API_KEY": "sk-secret-0123456789"})
    assert "sk-secret" not in repr(p) + repr(p.scope())


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan"])
def test_a_late_task_grace_that_is_not_seconds_is_refused(root, models, value):
    """WANFORM_LATE_TASK_GRACE must be a number of seconds from 0: anything else is named and
    nothing is sent."""
    env = {**CLEAN_ENV, "WANFORM_LATE_TASK_GRACE": value}
    with pytest.raises(wanform.SettingError, match=f"WANFORM_LATE_TASK_GRACE='{value}'"):
        wanform.Project(root, models=models, env=env).run()
    assert not (root / ".wanform" / "journal.jsonl").exists()
