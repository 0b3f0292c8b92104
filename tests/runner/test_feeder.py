"""The feeder starts a run's jobs a few at a time, upstream first, and never waits on itself."""

from __future__ import annotations

import asyncio

from wanform.runner.engine.feeder import Feeder


class Jobs:
    """Fake jobs that record when they start and end, and how many of a lane run at once."""

    def __init__(self, lanes: list[str]) -> None:
        self.lanes = lanes
        self.events: list[tuple[str, int]] = []
        self.running: dict[str, int] = dict.fromkeys(lanes, 0)
        self.most: dict[str, int] = dict.fromkeys(lanes, 0)

    async def start(self, index: int) -> None:
        lane = self.lanes[index]
        self.events.append(("start", index))
        self.running[lane] += 1
        self.most[lane] = max(self.most[lane], self.running[lane])
        await asyncio.sleep(0.001 * (index % 3))
        self.running[lane] -= 1
        self.events.append(("end", index))

    def ended_before_started(self, up: int, down: int) -> bool:
        return self.events.index(("end", up)) < self.events.index(("start", down))


def feed(lanes: list[str], upstream: list[list[int]], widths: dict[str, int]) -> Jobs:
    jobs = Jobs(lanes)

    async def scenario() -> None:
        await asyncio.wait_for(Feeder(lanes, upstream, widths, jobs.start).run(), timeout=5)

    asyncio.run(scenario())
    return jobs


def test_a_chain_written_downstream_first_runs_to_the_end_one_place_wide() -> None:
    """Ten jobs, each taking the next one's output, with one place: every job runs, each after
    its upstream ended (a feeder starting them in file order would wait forever)."""
    upstream = [[i + 1] for i in range(9)] + [[]]
    jobs = feed(["m"] * 10, upstream, {"m": 1})
    assert sorted(i for kind, i in jobs.events if kind == "end") == list(range(10))
    assert all(jobs.ended_before_started(i + 1, i) for i in range(9))


def test_no_more_jobs_of_a_model_run_at_once_than_its_width() -> None:
    """Forty independent jobs of a model two wide never run more than two at once, and start in
    file order."""
    jobs = feed(["m"] * 40, [[] for _ in range(40)], {"m": 2})
    assert jobs.most == {"m": 2}
    assert [i for kind, i in jobs.events if kind == "start"] == list(range(40))


def test_each_model_has_its_own_width() -> None:
    """A model whose jobs fill its places does not hold back another model's jobs."""
    lanes = ["slow"] * 6 + ["fast"] * 6
    jobs = feed(lanes, [[] for _ in lanes], {"slow": 1, "fast": 3})
    assert jobs.most == {"slow": 1, "fast": 3}
    first_fast = jobs.events.index(("start", 6))
    assert first_fast < jobs.events.index(("end", 0))


def test_jobs_across_models_wait_for_their_upstream_in_the_other_model() -> None:
    """A job of one model taking a job of another model's output starts once it ended, even when
    both models are one wide and the downstream jobs come first."""
    lanes = ["a", "b", "a", "b"]
    upstream = [[1], [2], [3], []]
    jobs = feed(lanes, upstream, {"a": 1, "b": 1})
    assert [i for kind, i in jobs.events if kind == "end"] == [3, 2, 1, 0]
