"""The two test tiers as the README and .ci/run give them: the README's test command leaves out the
slow tier and says so, names the command that runs it, and .ci/run runs both, the slow one bounded;
every skip says why in the summary."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"


def pytest_args(words: list[str]) -> list[str]:
    """The words after `pytest`; [] without it."""
    return words[words.index("pytest") + 1 :] if "pytest" in words else []


def readme_commands() -> dict[str, tuple[list[str], str]]:
    """The README's first shell block's pytest lines by tier ("tests", "slow"): their pytest
    arguments and the whole line."""
    block = re.search(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert block
    commands = {}
    for line in block[1].splitlines():
        args = pytest_args(shlex.split(line, comments=True))
        if args:
            commands["slow" if "slow" in args else "tests"] = (args, line)
    return commands


def ci_steps() -> dict[str, list[str]]:
    """.ci/run's steps by name: the command each runs."""
    lines = [shlex.split(line, comments=True) for line in CI.read_text().splitlines()]
    return {words[1]: words[2:] for words in lines if words[:1] == ["step"]}


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_readme_test_command_leaves_out_the_slow_tier_and_names_it():
    """The README's test command deselects `slow` and says so beside it; the next line runs the
    slow tier; both say why each skipped test was skipped (-rs)."""
    (tests, line), (slow, _) = readme_commands()["tests"], readme_commands()["slow"]
    assert option(tests, "-m") == "not slow" and "but the slow tier (next line)" in line
    assert option(slow, "-m") == "slow"
    assert "-rs" in tests and "-rs" in slow


def test_ci_runs_both_tiers_as_the_readme_does_the_slow_one_bounded():
    """.ci/run's tests and slow steps run the README's two commands (with no cache folder left in
    the checkout), the slow one under `timeout`."""
    steps = ci_steps()
    for tier in ("tests", "slow"):
        args = pytest_args(steps[tier])
        assert option(args, "-p") == "no:cacheprovider"
        del args[args.index("-p") : args.index("-p") + 2]
        assert sorted(args) == sorted(readme_commands()[tier][0]), tier
    assert steps["slow"][0] == "timeout" and int(steps["slow"][1]) > 0


def test_the_slow_marker_is_registered_and_strict():
    """`slow` is a registered marker and --strict-markers is on, so a misspelt marker stops the run
    rather than leaving its test in the wrong tier."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in config["addopts"]
    assert [m.split(":")[0] for m in config["markers"]] == ["slow"]
