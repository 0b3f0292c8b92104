"""Limits: the model table's defaults, overrides, a limiter that stays under DashScope's bucket."""

from __future__ import annotations

import asyncio
import random

import pytest

from wanform.emulator.state.throttle import TokenBucket
from wanform.runner.api.limits import SubmitGate, polite_limiter, resolve_limits
from wanform.spec.models import MODELS

NETWORK_JITTER = 0.010  # seconds a request may arrive early or late after crossing the network


def test_defaults_are_the_documented_limits():
    """Without overrides: the model table's rates and caps, and 20 task queries per second."""
    limits = resolve_limits(MODELS, {})
    assert (limits.submit_rps["wanx2.1-imageedit"], limits.max_in_flight["wanx2.1-imageedit"]) == (
        2,
        2,
    )
    assert (
        limits.submit_rps["wan2.7-image-pro"],
        limits.max_in_flight["wan2.7-image-pro"],
        limits.query_rps,
    ) == (5, 5, 20)


def test_flags_override_the_environment_which_overrides_the_defaults():
    """WANFORM_* variables apply to every model or to named ones; a flag beats its variable."""
    env = {
        "WANFORM_SUBMIT_RPS": "wan2.6-image=1",
        "WANFORM_MAX_IN_FLIGHT": "9",
        "WANFORM_QUERY_RPS": "10",
    }
    limits = resolve_limits(MODELS, env, submit_rps="3,wanx2.1-imageedit=0.5")
    assert limits.submit_rps == {**dict.fromkeys(MODELS, 3.0), "wanx2.1-imageedit": 0.5}
    assert set(limits.max_in_flight.values()) == {9} and limits.query_rps == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("wan9=2", "unknown model 'wan9'"),
        ("fast", "'fast' is not a number"),
        ("0", "must be a positive number"),
    ],
)
def test_bad_overrides_name_the_option_and_the_problem(text, message):
    """A malformed limit is refused with the option's name and what is wrong."""
    with pytest.raises(ValueError, match=f"--submit-rps: .*{message}"):
        resolve_limits(MODELS, {}, submit_rps=text)


@pytest.mark.parametrize("rate", [2, 5, 20])
async def test_the_limiter_never_empties_the_services_bucket(rate):
    """Requests paced by the limiter, arriving up to 10 ms early or late, always find a token."""
    limiter, jitter = polite_limiter(rate), random.Random(rate)
    loop = asyncio.get_running_loop()
    start = loop.time()
    bucket = TokenBucket(rate, start)
    arrivals = []
    for _ in range(2 * rate + 2):
        await limiter.acquire()
        # Read in the same step as the limiter's decision (acquire does not yield after it), so a
        # slow machine delays the sequence but never squeezes two requests closer than it allowed.
        arrivals.append(loop.time() + jitter.uniform(-NETWORK_JITTER, NETWORK_JITTER))
    assert all(bucket.take(t) for t in sorted(arrivals))


async def test_an_exclusive_holder_waits_for_shared_ones_and_blocks_new_ones():
    """Finding a lost task waits for the submissions in the air, and new ones wait for it."""
    gate, order = SubmitGate(), []

    async def shared(name: str, hold: float) -> None:
        async with gate.shared():
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    async def exclusive() -> None:
        async with gate.exclusive():
            order.append("x in")
            await asyncio.sleep(0.01)
            order.append("x out")

    first = asyncio.create_task(shared("a", 0.03))
    await asyncio.sleep(0)
    lone = asyncio.create_task(exclusive())
    await asyncio.sleep(0)
    late = asyncio.create_task(shared("b", 0))
    await asyncio.gather(first, lone, late)
    assert order == ["a in", "a out", "x in", "x out", "b in", "b out"]
