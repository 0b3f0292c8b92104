"""The README's console examples are true: every `wanform` command in a ```console block takes
the options it is shown with, and a command shown with its output prints that output.

The format of an example: a line `$ COMMAND` (a `# comment` after it, and comment lines under it
that start with spaces and `#`, are for people), then the lines it prints on stdout. A command
shown with output runs in this process, from a scratch copy of the repository's project
(`wanform.yaml` and `recipes/`), and its stdout is compared line for line once the parts that
vary are masked in both: durations, request counts (polls), the scratch folder, `file://` URLs,
ports; an output line `...` stands for any lines (a run's job lines, say). A command that
needs a DashScope key (`DASHSCOPE_API_KEY=sk-...`) is only parsed, as are commands shown without
output; other programs' commands (`curl`) are not checked.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from wanform.runner.cli import main

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
# running these takes seconds (an emulator, many jobs): the slow tier runs them
SLOW = frozenset({"run", "contract"})
KEY_PLACEHOLDER = "sk-..."
CLEAN_ENV = dict.fromkeys(
    ("DASHSCOPE_API_KEY", "DASHSCOPE_HTTP_BASE_URL", "DASHSCOPE_API_REGION", "WANFORM_VARIANTS")
)
MASKS = (
    (re.compile(r"file://[^\s)]+"), "file://<path>"),
    (re.compile(r"\b\d+(\.\d+)?s\b"), "<seconds>"),
    (re.compile(r"(127\.0\.0\.1|localhost):\d+"), r"\1:<port>"),
    (re.compile(r"\b\d+ requests\b"), "<polls and retries> requests"),
)


@dataclass
class Example:
    """One `$ ...` line of a console block, and the lines shown under it."""

    line: int
    shell: str
    output: list[str] = field(default_factory=list)

    @property
    def commands(self) -> list[tuple[dict[str, str], list[str]]]:
        """Each `wanform` command of the line (`&&` joins several): its environment assignments
        and its arguments, without redirections and comments."""
        found = []
        for part in re.split(r"\s*&&\s*", self.shell):
            words = shlex.split(part, comments=True)
            env = {}
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                name, _, value = words.pop(0).partition("=")
                env[name] = value
            if words[:1] == ["wanform"]:
                end = next((i for i, w in enumerate(words) if re.match(r"\d?[<>]", w)), None)
                found.append((env, words[1:end]))
        return found


def examples(text: str) -> list[Example]:
    """The `$` lines of every ```console block, with their output lines."""
    found: list[Example] = []
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            inside = line == "```console"
            continue
        if not inside:
            continue
        if line.startswith("$ "):
            found.append(Example(number, line[2:]))
        elif found and found[-1].line < number and not re.match(r"\s+#", line):
            found[-1].output.append(line)
    return found


EXAMPLES = examples(README.read_text(encoding="utf-8"))
COMMANDS = [(e, env, args) for e in EXAMPLES for env, args in e.commands]
SHOWN = [
    pytest.param(
        example,
        id=f"README.md:{example.line}",
        marks=[pytest.mark.slow] if any(args[0] in SLOW for _, args in example.commands) else [],
    )
    for example in EXAMPLES
    if example.output
    and example.commands
    and not any(KEY_PLACEHOLDER in value for env, _ in example.commands for value in env.values())
]


def command_of(args: list[str]) -> tuple[click.Command, list[str], str]:
    """The (sub)command `args` name, the arguments left for it, and its name."""
    command: click.Command = main
    name = "wanform"
    context = click.Context(main)
    while isinstance(command, click.Group) and args:
        found = command.get_command(context, args[0])
        assert found is not None, f"no command {args[0]!r} in `{name}`"
        command, name, args = found, f"{name} {args[0]}", args[1:]
    return command, args, name


def masked(text: str, root: Path | None = None) -> str:
    """Text with the parts that vary from run to run masked, and no trailing spaces."""
    if root is not None:
        text = text.replace(f"{root}/", "")
    for pattern, mask in MASKS:
        text = pattern.sub(mask, text)
    return "".join(f"{line.rstrip()}\n" for line in text.splitlines())


def matches(shown: list[str], printed: str) -> bool:
    """Whether the printed text is the shown lines, where a line `...` stands for any lines."""
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line == "..." else re.escape(line) + "\n"
        for line in masked("\n".join(shown)).splitlines()
    )
    return re.fullmatch(pattern, printed) is not None


def test_the_readme_has_console_examples_with_output():
    """The examples are found: a change of format would otherwise pass every test below."""
    assert len(COMMANDS) >= 10 and len(SHOWN) >= 3


@pytest.mark.parametrize(
    ("example", "args"),
    [pytest.param(e, a, id=f"README.md:{e.line}") for e, _, a in COMMANDS],
)
def test_every_command_takes_the_options_it_is_shown_with(example, args):
    """Each `wanform` command of a console example names a command and options it has."""
    command, rest, name = command_of(args)
    try:
        command.make_context(name, rest)
    except click.BadParameter:
        pass  # a value this machine does not have (a folder, a git revision): parsed all the same
    except click.UsageError as exc:
        pytest.fail(f"README.md:{example.line}: `{example.shell}`: {exc.format_message()}")


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's project (its wanform.yaml and recipes), as the working folder."""
    shutil.copy(REPO / "wanform.yaml", tmp_path / "wanform.yaml")
    shutil.copytree(REPO / "recipes", tmp_path / "recipes")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("example", SHOWN)
def test_a_command_prints_the_output_it_is_shown_with(scratch, example):
    """A console example's commands, run on the repository's recipes, print what it shows."""
    printed = ""
    for _, args in example.commands:
        result = CliRunner().invoke(main, args, env=CLEAN_ENV, catch_exceptions=False)
        printed += masked(result.stdout, scratch)
    assert matches(example.output, printed), (
        f"README.md:{example.line}: `{example.shell}` printed:\n{printed}"
    )
