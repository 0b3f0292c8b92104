"""The CI workflow for images in a store: it commits only the lock and the journal, and takes the
API key and the store's credentials from the secret store only."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from wanform.runner.cli import main

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "github-workflow-store.yml"
SECRETS = {
    "DASHSCOPE_API_KEY": {"DASHSCOPE_API_KEY"},
    "AWS_ACCESS_KEY_ID": {"STORE_ACCESS_KEY_ID", "STORE_READ_ACCESS_KEY_ID"},
    "AWS_SECRET_ACCESS_KEY": {"STORE_SECRET_ACCESS_KEY", "STORE_READ_SECRET_ACCESS_KEY"},
}


def steps() -> list[dict]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    return [step for job in doc["jobs"].values() for step in job["steps"]]


def test_every_credential_comes_from_the_secret_store():
    """Each key and credential a step sets is a `secrets.` reference, never a literal."""
    for step in steps():
        for name, value in step.get("env", {}).items():
            found = re.fullmatch(r"\$\{\{ secrets\.(\w+) \}\}", value)
            assert found and found[1] in SECRETS[name], (name, value)


def test_the_commit_adds_the_lock_and_the_journal_and_no_image():
    """The apply job's commit step adds wanform.lock and the journal, and no output folder."""
    commit = next(s for s in steps() if s.get("id") == "commit")["run"]
    assert "for state in wanform.lock .wanform/journal.jsonl" in commit
    assert "git add --all" not in commit and " out" not in commit


def test_every_wanform_command_in_it_parses():
    """Each `wanform ...` line names a real command with real options."""
    lines = [line for s in steps() for line in s.get("run", "").splitlines()]
    commands = [
        shlex.split(line.strip())[1:] for line in lines if line.strip().startswith("wanform ")
    ]
    assert {c[0] for c in commands} >= {"validate", "plan", "run", "report"}
    for args in commands:
        args = [a for a in args if a not in ("|", ">>") and not a.startswith('"$')]
        command = main.get_command(None, args[0])  # type: ignore[arg-type]
        assert command is not None, args
        command.make_context(args[0], args[1:], resilient_parsing=False)
