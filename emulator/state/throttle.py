"""DashScope's rate limits, per account: task submissions per model, task queries, upload policies.

The buckets run on the emulator's virtual clock, so a test can refill them by advancing it.
aiolimiter (the project's rate limiter for the runner) reads the event loop's real time and
makes callers wait; here a request over the limit must be refused at once with 429, on a
clock that can jump, so this small token bucket is written by hand.
"""

from __future__ import annotations

from collections.abc import Mapping

from wanform.emulator.errors import rate_limited
from wanform.emulator.state.accounts import Account
from wanform.emulator.state.clock import VirtualClock
from wanform.spec.models import RATE_GUESSES, TASK_QUERY_RPS, UPLOAD_POLICY_RPS, ModelSpec


class TokenBucket:
    """`rate` tokens per virtual second, holding at most `rate` (a one-second burst)."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = float(rate)
        self.stamp = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Throttle:
    """One bucket per (account, limit); `enabled=False` lets everything through."""

    def __init__(
        self,
        clock: VirtualClock,
        models: Mapping[str, ModelSpec],
        enabled: bool,
        query_rps: float = TASK_QUERY_RPS,
    ) -> None:
        self._clock = clock
        self._models = models
        self._enabled = enabled
        self._query_rps = query_rps
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}

    def submit(self, account: Account, model: str) -> None:
        """A task submission (sync or async), limited per account and model; raises 429."""
        self._take(account, "submit", model, self._models[model].submit_rps, _guessed(model))

    def query(self, account: Account) -> None:
        """A task query, cancel or list, limited per account across models."""
        self._take(account, "query", "", self._query_rps)

    def policy(self, account: Account, model: str) -> None:
        """An upload-policy request, limited per account and model."""
        self._take(account, "policy", model, UPLOAD_POLICY_RPS)

    def admit(self, in_flight: int, spec: ModelSpec, queue_over_cap: bool) -> bool:
        """Whether a task arrives over the model's in-flight cap (then it queues); with queueing
        off such a task is refused with 429. Either answer is the guess `service.over_cap`."""
        over = self._enabled and in_flight >= spec.max_in_flight
        if over and not queue_over_cap:
            raise rate_limited(("service.over_cap", *_guessed(spec.name)))
        return over

    def reset(self) -> None:
        self._buckets.clear()

    def _take(
        self, account: Account, kind: str, model: str, rate: float, guesses: tuple[str, ...] = ()
    ) -> None:
        if not self._enabled:
            return
        now = self._clock.now()
        key = (account.key, kind, model)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(rate, now)
            self._buckets[key] = bucket
        if not bucket.take(now):
            raise rate_limited(guesses)


def _guessed(model: str) -> tuple[str, ...]:
    """The guess a model's rate limits rest on, if they do."""
    guess = RATE_GUESSES.get(model)
    return (guess,) if guess else ()
