"""GitHub's part in running a workflow's or an action's own shell steps here, played minimally:
the environment GitHub gives a step, `${{ ... }}` in a step's `env:` filled in by the test, and
the command `shell: bash` runs a script with. No `run:` script may hold an expression."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

BRANCH = "main"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def git_env() -> dict[str, str]:
    """This environment without the user's or the system's git configuration, nor an identity the
    workflow does not set itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return {**env, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def github_env(clone: Path) -> dict[str, str]:
    """The environment GitHub gives a step, this Python's `wanform` first on PATH, and no key."""
    runner = clone.parent / f"{clone.name}-runner"
    runner.mkdir(exist_ok=True)
    env = {k: v for k, v in git_env().items() if k != "DASHSCOPE_API_KEY"}
    return {
        **env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF": f"refs/heads/{BRANCH}",
        "GITHUB_REF_NAME": BRANCH,
        "GITHUB_WORKSPACE": str(clone),
        "RUNNER_TEMP": str(runner),
        **{name: str(runner / name.lower()) for name in ("GITHUB_OUTPUT", "GITHUB_PATH")},
        "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
    }


def bash(step: dict, env: dict[str, str], expressions: Mapping[str, str]) -> list[str]:
    """The command GitHub runs a `run:` step with (`shell: bash`), and its environment filled in:
    each `${{ X }}` of its `env:` as `expressions[X]`."""
    assert "${{" not in step["run"], "an expression in a script: pass it through env:"
    for name, value in step.get("env", {}).items():
        found = re.fullmatch(r"\$\{\{\s*(.+?)\s*\}\}", str(value))
        env[name] = expressions[found.group(1)] if found else str(value)
    return ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
