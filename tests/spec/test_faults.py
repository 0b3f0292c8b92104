"""The fault-rule format: its schema agrees with the emulator, and its errors say what and where."""

from __future__ import annotations

import inspect

import pytest

from wanform.emulator import EmulatorConfig, create_app
from wanform.emulator.state.faultbook import load_scenario, parse_rule
from wanform.spec.emulator.faultrules import (
    DEFAULT_CODES,
    ENDPOINTS,
    SCHEMA,
    SUBMIT_ENDPOINTS,
    rule_problems,
    scenario_problems,
)
from wanform.spec.errors import CATALOGUE

DEFINITIONS = SCHEMA["definitions"]


def fault_endpoints_of_routes() -> set[str]:
    """The fault endpoint each of the emulator's routes was registered with (`faulty`)."""
    found = set()
    for route in create_app(EmulatorConfig()).router.routes():
        closure = inspect.getclosurevars(route.handler).nonlocals
        if "endpoint" in closure:
            found.add(closure["endpoint"])
    return found


def test_the_schema_names_exactly_the_endpoints_the_emulator_routes_consult():
    """Every endpoint a rule may name has a route consulting it, and no route consults another."""
    assert fault_endpoints_of_routes() == set(ENDPOINTS)
    assert set(SUBMIT_ENDPOINTS) == {"sync", "async", "synthesis"}


def test_every_default_code_is_catalogued_with_a_message():
    """An error-like rule naming no code gets a status and message from spec/errors.py."""
    assert all(CATALOGUE[code].message for code in DEFAULT_CODES.values())


@pytest.mark.parametrize(
    ("rule", "path", "message"),
    [
        ([], (), "a fault rule is a mapping, got list"),
        (
            {"nth": 1},
            (),
            "a fault rule needs `action`: one of error, fail, partial, latency, drop, cut",
        ),
        ({"action": "cut", "bogus": 1}, ("bogus",), "unknown key 'bogus' in a `cut` rule"),
        (
            {"action": "error", "times": -1},
            ("times",),
            "`times` must be an integer of at least 0, got -1",
        ),
        (
            {"action": "error", "nth": True},
            ("nth",),
            "`nth` must be an integer of at least 1, got True",
        ),
        (
            {"action": "cut", "endpoint": ["result", "task"]},
            ("endpoint", 1),
            "a `cut` rule applies only to the endpoints result, got 'task'",
        ),
        (
            {"action": "error", "code": "InvalidFile"},
            ("code",),
            "code 'InvalidFile' has no message: give `message`",
        ),
    ],
)
def test_a_rule_problem_names_the_key_and_what_it_must_be(rule, path, message):
    """Each refusal is one sentence, at the path of the value (or key) it is about."""
    problem = rule_problems(rule)[0]
    assert (problem.path, problem.message) == (path, message)


def test_action_is_reported_before_the_other_keys():
    """A wrong `action` is the first thing said, whatever else is wrong."""
    problems = rule_problems({"nth": 0, "action": "explode"})
    assert problems[0].message.startswith("`action` must be one of")


def test_a_scenario_problem_counts_the_rule():
    """Inside `faults:`, a rule's problem carries its number and its path in the file."""
    problem = scenario_problems({"faults": [{"action": "error"}, {"action": "drop", "x": 1}]})[0]
    assert (problem.path, problem.message) == (
        ("faults", 1, "x"),
        "rule 2: unknown key 'x' in a `drop` rule",
    )


def test_an_unknown_key_in_a_scenario_file_is_marked_at_the_key(tmp_path):
    """The location of an unknown key is the key itself, as in recipes."""
    scenario = tmp_path / "faults.yaml"
    scenario.write_text("faults:\n  - action: drop\n    later: 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r":3:5: rule 1: unknown key 'later' in a `drop` rule$"):
        load_scenario(scenario)


def test_a_null_match_key_counts_as_absent():
    """`model:` left empty in YAML (null) matches every model, as before the schema."""
    given = {"action": "error", "model": None, "nth": None, "prompt": None}
    rule = parse_rule(given, "r1", 0)
    assert rule_problems(given) == [] and (rule.model, rule.nth, rule.prompt) == (None, None, None)
