"""What is tried again, how often, and after how long (runner/api/retries.py)."""

from __future__ import annotations

import time

import pytest
import stamina

from wanform.runner.api import retries
from wanform.runner.api.errors import RejectedError, ThrottledError
from wanform.runner.api.retries import RetryPolicy, retrying


class Flaky:
    """An operation that fails with `errors` in turn, then answers "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls: list[float] = []

    async def __call__(self) -> str:
        self.calls.append(time.monotonic())
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def throttled(retry_after: float | None = None) -> ThrottledError:
    error = ThrottledError(429, "Throttling.RateQuota", "Requests rate limit exceeded.")
    error.retry_after = retry_after
    return error


async def test_an_operation_that_passes_at_once_never_builds_the_retry_machinery(monkeypatch):
    """stamina's context costs about 5 KB; a run has a thousand operations in the air, nearly all
    of which pass at the first attempt."""

    def refuse(**_: object) -> None:
        raise AssertionError("a retry context was built")

    monkeypatch.setattr(retries.stamina, "retry_context", refuse)
    assert await retrying(Flaky(), RetryPolicy()) == "done"


async def test_a_retryable_failure_is_tried_again_and_each_failure_is_heard_once():
    seen: list[Exception] = []
    op = Flaky(throttled(), throttled())
    assert await retrying(op, RetryPolicy(), seen.append) == "done"
    assert len(op.calls) == 3 and len(seen) == 2


async def test_the_attempts_include_the_first_one():
    """The conftest's test mode allows four attempts: four calls, then the last failure."""
    op = Flaky(*[throttled() for _ in range(10)])
    with pytest.raises(ThrottledError):
        await retrying(op, RetryPolicy())
    assert len(op.calls) == 4


async def test_a_failure_that_cannot_pass_later_is_raised_at_once():
    seen: list[Exception] = []
    op = Flaky(RejectedError(400, "InvalidParameter", "bad size"))
    with pytest.raises(RejectedError):
        await retrying(op, RetryPolicy(), seen.append)
    assert len(op.calls) == 1 and seen == []


async def test_the_wait_after_a_first_failure_is_the_servers_retry_after():
    with stamina.set_testing(False):
        op = Flaky(throttled(retry_after=0.3))
        policy = RetryPolicy(wait_initial=0.01, wait_max=0.01, wait_jitter=0.0)
        assert await retrying(op, policy) == "done"
    assert op.calls[1] - op.calls[0] >= 0.3


async def test_a_first_attempt_that_spent_the_budget_is_not_tried_again():
    calls = []

    async def slow() -> str:
        calls.append(1)
        time.sleep(0.05)  # the budget is spent inside the attempt
        raise throttled()

    with stamina.set_testing(False), pytest.raises(ThrottledError):
        await retrying(slow, RetryPolicy(budget=0.01, wait_initial=0.01, wait_jitter=0.0))
    assert calls == [1]
