"""One pass of the suite over a target: reach it, let the caller approve what it may cost, play
every case it can play, in order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from wanform.runner.api.client import session
from wanform.runner.api.targets import Target
from wanform.runner.contract.play import CannotPlay, Player, Where
from wanform.runner.contract.reach import reach
from wanform.runner.contract.suite import Case
from wanform.spec.models import GUESSES, ModelSpec, choose, table


@dataclass
class Played:
    """The target as reached, the cases it could not play, and what each played case showed."""

    where: Where
    skipped: dict[str, str] = field(default_factory=dict)  # case id -> why it was not played
    observed: dict[str, dict] = field(default_factory=dict)


async def play_suite(
    target: Target,
    models: Mapping[str, ModelSpec],
    cases: Iterable[Case],
    approve: Callable[[Where, list[Case]], None],
    progress: Callable[[Case], None] = lambda case: None,
) -> Played:
    """Play `cases` against `target`; `approve` sees the reached target and the cases about to
    be played before anything is sent, and raises to stop."""
    async with session(target) as http, reach(target, http, models) as where:
        chosen = list(cases)
        played = Played(
            where, {c.id: c.emulator_only for c in chosen if c.emulator_only and not where.emulator}
        )
        playable = [c for c in chosen if c.id not in played.skipped]
        approve(where, playable)
        player = Player(http, where)
        for case in playable:
            progress(case)
            try:
                played.observed[case.id] = await player.play(case)
            except CannotPlay as exc:
                played.skipped[case.id] = str(exc)
        return played


async def alternative(case: Case, expected: Mapping, variants: Mapping[str, str]) -> str | None:
    """The value of the case's guess under which the embedded emulator answers as `expected`
    shows, trying every value but the current one; None when none does."""
    from wanform.runner.api.targets import resolve
    from wanform.runner.contract.compare import differences

    assert case.guess is not None
    current = choose(variants, case.guess)
    for value in GUESSES[case.guess].values:
        if value == current:
            continue
        models = table({**variants, case.guess: value})
        played = await play_suite(resolve("emulator", {}), models, [case], lambda w, c: None)
        if not differences(case, expected, played.observed[case.id]):
            return value
    return None
