"""Polling: an early probe for unknown durations, then the learned duration, then growing gaps."""

from __future__ import annotations

from wanform.runner.engine.polling import MAX_GAP, Durations


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
