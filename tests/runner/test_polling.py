"""Polling: an early probe for unknown durations, then the learned duration, then growing gaps."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from wanform.emulator.state.clock import task_time
from wanform.runner.api.answers import service_seconds
from wanform.runner.engine.polling import MAX_GAP, Durations

DOCUMENTED = "%Y-%m-%d %H:%M:%S.%f"  # API-FACTS: `YYYY-MM-DD HH:mm:ss.SSS`


def test_an_unknown_model_is_probed_early_then_at_doubling_intervals():
    """Before any task ended: the first query after at most 2 s,
    then the wait doubles, up to 10 s."""
    durations = Durations(typical=30.0)
    assert durations.first_poll() == 2.0
    assert [durations.next_poll(t, 1) for t in (2.0, 4.0, 8.0, 16.0)] == [2.0, 4.0, 8.0, MAX_GAP]


def test_an_emulator_of_known_speed_is_asked_at_the_documented_duration():
    """With exact durations
    (an emulator's clock) the first query comes when the task should be done."""
    assert Durations(typical=3.0, exact=True).first_poll() == 3.0


def test_the_servers_duration_becomes_the_first_poll():
    """A task the service says took 1.05 s sets the next tasks' first query to 1.05 s."""
    durations = Durations(typical=30.0)
    durations.learn(elapsed=2.0, misses=0, server_seconds=1.05)
    assert durations.first_poll() == 1.05
    assert [round(durations.next_poll(1.05, k), 3) for k in (1, 2, 3)] == [0.105, 0.21, 0.42]


def test_a_server_clock_that_disagrees_with_the_client_is_ignored():
    """An emulator's fast virtual clock reports longer durations than the client saw:
    the client's view is used."""
    durations = Durations(typical=30.0)
    durations.learn(elapsed=1.0, misses=2, server_seconds=30.0)
    assert durations.first_poll() == 1.0
    durations.learn(elapsed=1.0, misses=0, server_seconds=None)
    assert durations.first_poll() == (1.0 + 0.97) / 2


def documented_task_times() -> list[dict]:
    """The outputs of the documents' finished-task examples that give both times."""
    examples = Path(__file__).parents[1] / "doc_examples"
    outputs = []
    for path in sorted(examples.glob("*task-succeeded*.json")):
        output = json.loads(path.read_text(encoding="utf-8")).get("output") or {}
        if "submit_time" in output and "end_time" in output:
            outputs.append(output)
    return outputs


def test_every_documented_and_emulated_task_time_is_read():
    """service_seconds reads the times of each documented example and of the emulator, as the
    documented `YYYY-MM-DD HH:mm:ss.SSS` format says."""
    outputs = documented_task_times()
    outputs.append(
        {"submit_time": task_time(1_700_000_000.25), "end_time": task_time(1_700_000_003.5)}
    )
    assert len(outputs) >= 5
    for output in outputs:
        start = datetime.strptime(output["submit_time"], DOCUMENTED)
        end = datetime.strptime(output["end_time"], DOCUMENTED)
        assert service_seconds(output) == (end - start).total_seconds()
    assert service_seconds(outputs[-1]) == 3.25


def test_a_task_time_without_milliseconds_is_read():
    """A time the service gives to the whole second still counts (strptime's `.%f` refused it)."""
    output = {"submit_time": "2025-02-21 17:56:31", "end_time": "2025-02-21 17:56:42.530"}
    assert service_seconds(output) == 11.53


def test_unreadable_task_times_give_no_duration():
    """Missing, malformed, or one time with a UTC offset and one without: no duration, no error."""
    for output in (
        {"submit_time": "2025-02-21 17:56:31.786"},
        {"submit_time": "yesterday", "end_time": "2025-02-21 17:56:42.530"},
        {"submit_time": "2025-02-21 17:56:31.786+08:00", "end_time": "2025-02-21 17:56:42.530"},
    ):
        assert service_seconds(output) is None
