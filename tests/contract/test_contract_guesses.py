"""The suite can settle every guess: each guessed case's answer changes when the emulator takes
another value of its guess."""

from __future__ import annotations

import pytest

from wanform.runner.api.targets import resolve
from wanform.runner.contract import snapshots
from wanform.runner.contract.cases import SUITE, UNSETTLED
from wanform.runner.contract.compare import differences
from wanform.runner.contract.session import play_suite
from wanform.spec.models import GUESSES, table

ALTERNATIVES = [
    (g.id, value) for g in GUESSES.values() if g.id not in UNSETTLED for value in g.alternatives
]


@pytest.mark.parametrize(
    ("guess", "value"), ALTERNATIVES, ids=[f"{g}={v}" for g, v in ALTERNATIVES]
)
async def test_another_value_of_a_guess_changes_its_case(guess: str, value: str) -> None:
    """With `guess=value` the emulator answers the guess's case otherwise than the shipped
    expectation (made with the default), so a DashScope recording tells the values apart."""
    _, shipped = snapshots.read(snapshots.SHIPPED)
    cases = [c for c in SUITE if c.guess == guess]
    assert cases, f"{guess} has no case: name it in UNSETTLED with why"
    played = await play_suite(
        resolve("emulator", {}), table({guess: value}), cases, lambda where, chosen: None
    )
    for case in cases:
        assert differences(case, shipped[case.id], played.observed[case.id]), case.id
