"""The files other repositories copy: the pre-commit hook and the example CI workflow."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import yaml

from wanform.runner.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _commands(step_run: str) -> list[list[str]]:
    """The wanform invocations in a workflow step's shell script."""
    found = []
    for line in step_run.splitlines():
        match = re.match(r"\s*wanform\s+[^|;&]*", line)
        if match:
            found.append(shlex.split(match.group(0))[1:])
    return found


def test_pre_commit_hook_runs_validate():
    """The hook exposes `wanform validate` on recipe files."""
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [(h["id"], h["entry"].split()[:2], h["language"]) for h in hooks] == [
        ("wanform-validate", ["wanform", "validate"], "python")
    ]
    assert re.search(hooks[0]["files"], "recipes/x/y.yaml") and not re.search(
        hooks[0]["files"], ".github/ci.yml"
    )


def test_workflow_is_valid_yaml_with_both_jobs():
    """The example workflow parses, plans on pull requests and applies on main."""
    doc = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text())
    assert set(doc["jobs"]) == {"plan", "apply"}
    assert doc["jobs"]["plan"]["if"] == "github.event_name == 'pull_request'"
    assert doc["jobs"]["apply"]["if"] == "github.event_name == 'push'"


def test_workflow_takes_the_key_from_the_secret_store_only():
    """The API key appears only as a secrets reference, never as a literal."""
    text = (ROOT / "examples" / "github-workflow.yml").read_text()
    assert re.findall(r"DASHSCOPE_API_KEY: (.+)", text) == ["${{ secrets.DASHSCOPE_API_KEY }}"]
    assert not re.search(r"sk-[A-Za-z0-9]", text)


def test_every_wanform_command_in_the_workflow_parses():
    """Each `wanform ...` line names a real command with real options (click parses it without
    running)."""
    doc = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text())
    runs = [step["run"] for job in doc["jobs"].values() for step in job["steps"] if "run" in step]
    commands = [c for run in runs for c in _commands(run)]
    assert {c[0] for c in commands} >= {"validate", "plan", "run"}
    for args in commands:
        # click types ctx as Context, but get_command of a group never reads it
        command = main.get_command(None, args[0])  # type: ignore[arg-type]
        assert command is not None, args
        command.make_context(args[0], args[1:], resilient_parsing=False)


def test_both_jobs_install_wanform_with_the_action_at_its_release_tag():
    """wanform comes from this repository's action, pinned to the tag of this version; no step
    installs it from a package index."""
    doc = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for job in doc["jobs"].values():
        uses = [s["uses"] for s in job["steps"] if s.get("uses", "").startswith("wanform/")]
        assert uses == [f"wanform/wanform@v{version}"]
        assert not any("pip install" in s.get("run", "") for s in job["steps"])


def test_the_path_filters_hold_the_project_file_and_its_recipe_folders():
    """A change to wanform.yaml, or under a folder its `recipes:` globs name, starts both jobs."""
    doc = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text())
    project = yaml.safe_load((ROOT / "wanform.yaml").read_text())
    folders = {re.split(r"/[^/]*[*?\[]", glob)[0] + "/**" for glob in project["recipes"]}
    triggers = doc[True]  # YAML 1.1 reads the key `on` as true
    for event in ("pull_request", "push"):
        assert {"wanform.yaml", *folders} <= set(triggers[event]["paths"])


def test_apply_starts_from_the_branch_and_commits_its_state_always():
    """Apply checks out the branch as it is now (what the previous apply pushed), one at a time,
    and its commit step runs however the run ended."""
    doc = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text())
    steps = doc["jobs"]["apply"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert steps[0]["with"]["ref"] == "${{ github.ref_name }}"
    assert doc["concurrency"]["cancel-in-progress"] is False
    commit = next(s for s in steps if s.get("id") == "commit")
    assert commit["if"].startswith("always()") and ".wanform/journal.jsonl" in commit["run"]
