"""Fault-rule `prompt` patterns and scenario files that used to crash or freeze the emulator."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wanform.emulator.state.faultbook import Context, load_scenario, parse_rule
from wanform.spec.emulator.faultrules import PROMPT_PATTERN_MAX, rule_problems


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(" * 450, "not a valid regular expression: too complex"),
        ("(" * 1000, f"at most {PROMPT_PATTERN_MAX}"),
        ("(?P<", "not a valid regular expression"),
        ("x" * (PROMPT_PATTERN_MAX + 1), f"at most {PROMPT_PATTERN_MAX}"),
    ],
)
def test_unusable_prompt_pattern_is_a_problem_at_prompt(pattern: str, reason: str) -> None:
    """A pattern that overflows the compiler or is over the cap is one problem at `prompt`."""
    problems = rule_problems({"action": "latency", "seconds": 1, "prompt": pattern})
    assert [p.path for p in problems] == [("prompt",)]
    assert reason in problems[0].message


def test_pattern_at_the_cap_is_accepted() -> None:
    """The cap is inclusive."""
    assert (
        rule_problems({"action": "latency", "seconds": 1, "prompt": "x" * PROMPT_PATTERN_MAX}) == []
    )


@pytest.mark.parametrize("pattern", ["(a|aa)+$", "(a+)+$"])
def test_backtracking_pattern_search_is_time_bounded(pattern: str) -> None:
    """A search that would backtrack for minutes gives up quickly and counts as no match."""
    rule = parse_rule({"action": "latency", "seconds": 1, "prompt": pattern}, "r1", 0)
    started = time.monotonic()
    matched = rule.matches(Context("async", prompt="a" * 60 + "!"))
    assert (matched, time.monotonic() - started < 2) == (False, True)


def test_ordinary_pattern_still_matches() -> None:
    """A simple case-insensitive pattern matches as `re` would."""
    rule = parse_rule({"action": "latency", "seconds": 1, "prompt": "(?i)cat"}, "r1", 0)
    assert rule.matches(Context("async", prompt="A CAT"))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("    nth: !!bool many", ":3:10: cannot read the scenario: cannot read 'many' as bool"),
        ('    nth: !!int ""', ":3:10: cannot read the scenario: cannot read '' as int"),
        ("    prompt: '" + "(" * 1000 + "'", ":3:13: rule 1: `prompt` has 1000 characters"),
    ],
)
def test_bad_scenario_is_a_located_value_error(tmp_path: Path, line: str, expected: str) -> None:
    """A scenario with a bad tagged value or prompt is refused with file:line:column."""
    path = tmp_path / "s.yaml"
    path.write_text(f"faults:\n  - action: latency\n{line}\n    seconds: 1\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}{expected}")
