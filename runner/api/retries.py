"""Retries: what is tried again (429, 5xx, 408, lost connections, timeouts), with exponential
backoff, jitter, a total time budget per operation, and the server's Retry-After when it sends one.
Built on stamina, which is entered only once a first attempt has failed: its machinery costs about
5 KB per operation, and a run has a thousand operations in the air."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import stamina

from wanform.runner.api.errors import RetryableError, TransportError, WanformError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one operation (a submission, a poll, a download) is tried."""

    attempts: int = 10
    budget: float = 300.0  # seconds, across all attempts
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_jitter: float = 1.0


def backoff(exc: BaseException) -> bool | float:
    """stamina's hook: False for what cannot succeed later, the Retry-After seconds when the
    server named them."""
    if isinstance(exc, RetryableError):
        return True if exc.retry_after is None else exc.retry_after
    return isinstance(exc, TransportError)


async def retrying(
    op: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    seen: Callable[[WanformError], None] | None = None,
) -> T:
    """Run `op` until it succeeds, fails for good, or the policy is spent; `seen` hears of each
    retryable failure."""

    def hook(exc: BaseException) -> bool | float:
        decision = backoff(exc)
        if decision is not False and seen is not None and isinstance(exc, WanformError):
            seen(exc)  # backoff retries only RetryableError and TransportError, both WanformError
        return decision

    started = time.monotonic()
    try:
        return await op()
    except Exception as exc:  # what stamina would have caught: tried again or raised below
        first = exc
    left = policy.budget - (time.monotonic() - started)
    if backoff(first) is False or left <= 0:
        raise first
    failure: Exception | None = first
    # stamina's first attempt raises the first failure again: its hook hears of it and it waits
    # before the second, as if it had made the first
    async for attempt in stamina.retry_context(
        on=hook,
        attempts=policy.attempts,
        timeout=left,
        wait_initial=policy.wait_initial,
        wait_max=policy.wait_max,
        wait_jitter=policy.wait_jitter,
    ):
        with attempt:
            if failure is not None:
                again, failure = failure, None
                raise again
            return await op()
    raise AssertionError("unreachable: stamina re-raises the last failure")  # pragma: no cover
