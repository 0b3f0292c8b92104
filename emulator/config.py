"""How one emulator instance behaves: where it listens, how fast its clock runs, who may call it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wanform.spec.models import MB, MODELS, TASK_QUERY_RPS, ModelSpec

MAX_SKEW = 7 * 86400  # a week either way: more is a mistake, not a clock
# A 60 KB input per task is ~8,700 tasks' worth: evictions start long after their downloads.
INPUT_STORE_BYTES = 512 * MB


@dataclass(frozen=True)
class EmulatorConfig:
    """Settings of one emulator; every field has the default `wanform emulator` uses.

    `speed` scales the virtual clock against real time (2 = twice as fast, 0.1 = ten times
    slower, 0 = frozen: only `POST /__emulator/clock/advance` moves it). Task durations, rate
    windows and the 24 h expiry all run on that clock. `models` is
    `wanform.spec.models.table(variants)`:
    the variants it was built with pick the emulator's answer to every guessed point.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    speed: float = 1.0
    clock_skew: float = 0.0  # seconds the service's clock is ahead of this machine's (or behind)
    seed: int = 0
    api_keys: tuple[str, ...] = ()  # empty: any `sk-` key is an account
    scenario: str | None = None  # YAML file of fault rules
    rules: tuple[Mapping[str, Any], ...] = ()  # fault rules given in-process, after the scenario's
    # tasks beyond the in-flight cap wait as PENDING (True) or get 429 (False); None: as the
    # models' guess `service.over_cap` says (spec/guesses.yaml)
    queue_over_cap: bool | None = None
    throttle: bool = True  # False switches rate limits and in-flight caps off (benchmarks)
    query_rps: float = TASK_QUERY_RPS  # task queries, cancels and lists per account and second
    max_body_bytes: int = 32 * MB
    models: Mapping[str, ModelSpec] = field(default_factory=lambda: MODELS, repr=False)
    public_url: str | None = (
        None  # "http://host:port" for result and upload URLs; default: the request's Host
    )
    pending_seconds: float = (
        0.05  # virtual time a free task waits before it runs (docs show 25-55 ms)
    )
    # real seconds: an idle connection is closed this long after its last answer (above the
    # 15 s an aiohttp client keeps its own idle connections, so clients close theirs first)
    keepalive_seconds: float = 20.0
    # real seconds a client has to send a request: its first head from connecting, a body from
    # its head; a slower one (slowloris) is cut off
    request_seconds: float = 10.0
    input_store_bytes: int = INPUT_STORE_BYTES  # cap on the input images kept on disk
    # input URLs on loopback (127.0.0.1, ::1, names resolving there) are fetched; never by
    # default: a service must not be made to read its own machine's ports
    loopback_inputs: bool = False

    def guess(self, guess_id: str) -> str:
        """The value of a guess (spec/guesses.yaml), as the model table was built with it."""
        return next(iter(self.models.values())).guess(guess_id)

    @property
    def queues_over_cap(self) -> bool:
        if self.queue_over_cap is not None:
            return self.queue_over_cap
        return self.guess("service.over_cap") == "queue"

    def __post_init__(self) -> None:
        if self.speed < 0:
            raise ValueError(f"speed must be 0 or more, got {self.speed}")
        if abs(self.clock_skew) > MAX_SKEW:
            raise ValueError(f"clock_skew must be within {MAX_SKEW} seconds, got {self.clock_skew}")
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be positive, got {self.max_body_bytes}")
        if self.query_rps <= 0:
            raise ValueError(f"query_rps must be positive, got {self.query_rps}")
        if self.pending_seconds < 0:
            raise ValueError(f"pending_seconds must be 0 or more, got {self.pending_seconds}")
        for name in ("keepalive_seconds", "request_seconds", "input_store_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        bad = [k for k in self.api_keys if not k.startswith("sk-")]
        if bad:
            raise ValueError(f"API keys start with 'sk-'; got {bad[0]!r}")
