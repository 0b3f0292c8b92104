"""What `wanform --help` and `wanform validate` import: only what they need, so they start fast.

Each command runs in a fresh interpreter that prints `sys.modules` when the command exits. The speed
itself is measured by bench/startup_bench.py, not here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from wanform.runner.cli import COMMANDS, main

REPO = Path(__file__).resolve().parents[1]
RECIPE = "recipes/wan27-pro-graffiti-car.yaml"
# Modules that only sending requests, running jobs or comparing with the lock needs.
NETWORK = ("aiohttp", "wanform.runner.api.client", "wanform.runner.api.transport", "emulator")
ENGINE_AND_GITOPS = (
    "wanform.runner.engine",
    "wanform.runner.gitops",
    "rich",
    "stamina",
    "filelock",
)
MARK = "-- modules --"
CHILD = f"""
import sys
from wanform.runner.cli import main
try:
    main(sys.argv[1:], prog_name="wanform")
finally:
    print("{MARK}", *sorted(sys.modules), file=sys.stderr)
"""
COMMAND_MODULES = tuple(
    f"wanform.runner.cli.{name}"
    for name in ("validate", "run", "render", "gitops", "tasks", "emulator")
)


def imported(*args: str) -> set[str]:
    """The modules loaded once `wanform ARGS` is done, in a fresh interpreter in the repository."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(done.stderr.rpartition(MARK)[2].split())


def within(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    """The modules that are one of `packages` or inside one."""
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_importtime_output_names_modules():
    """The listing holds what a command does import, so the empty lists below mean something."""
    assert {"click", "wanform.runner.cli", "wanform.runner.cli.validate", "yaml"} <= imported(
        "validate", RECIPE
    )


def test_help_imports_no_command_module():
    """`wanform --help` lists every command from the stored short helps alone."""
    modules = imported("--help")
    assert within(modules, COMMAND_MODULES + NETWORK + ENGINE_AND_GITOPS) == []
    assert (
        within(modules, ("yaml", "jsonschema", "fastjsonschema", "PIL", "wanform.runner.recipes"))
        == []
    )


def test_validate_imports_no_network_engine_or_gitops_code():
    """Validating a correct recipe loads neither aiohttp, the run engine, gitops, nor jsonschema."""
    modules = imported("validate", RECIPE)
    assert within(modules, NETWORK + ENGINE_AND_GITOPS + ("jsonschema",)) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_stored_short_help_is_the_commands_own(name: str):
    """The line `wanform --help` shows for a command is the one its own help would give, at any
    width."""
    command = main.get_command(click.Context(main), name)
    assert command is not None and command.name == name
    stand_in = click.Command(name, help=COMMANDS[name][1])
    for limit in (20, 45, 62, 200):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit)


def test_every_command_is_listed():
    """The group lists exactly the commands it can load, sorted as click sorts them."""
    ctx = click.Context(main)
    assert main.list_commands(ctx) == sorted(COMMANDS)


API_RUN = f"""
import sys
import wanform
project = wanform.Project(sys.argv[1], env={{}})
ran = project.run(settings=wanform.RunSettings(target="emulator", emulator_speed=50.0),
                  progress=lambda event: None)
assert ran.exit_code == 0, ran
print("{MARK}", *sorted(sys.modules), file=sys.stderr)
"""


def test_a_python_api_run_with_a_callback_never_imports_the_terminal_library(tmp_path):
    """`Project.run(progress=...)` prints nothing, so rich (the live panel's library, a tenth of
    a second to import) stays out of the caller's process."""
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "fox.yaml").write_text(
        "model: wan2.7-image\nprompt: A red fox in fresh snow.\nsize: 1K\nn: 1\nseed: 3\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", API_RUN, str(tmp_path)], capture_output=True, text=True, check=True
    )
    modules = set(done.stderr.rpartition(MARK)[2].split())
    assert "wanform.runner.engine.run" in modules  # the run did run here
    assert within(modules, ("rich",)) == []
