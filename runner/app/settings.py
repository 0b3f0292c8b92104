"""The settings of a run: what `wanform run`'s options say, as one value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunSettings:
    """How to run; each field is the `wanform run` option of that name, None its default.

    `target` is "emulator", "dashscope" or a URL (default: the project's, else dashscope when
    DASHSCOPE_API_KEY is set, else the embedded emulator). A relative `out` is taken from the
    project root, a relative `lock` or `junit` from the current directory, as on the command
    line. `jobs` are job names as printed, or RECIPE::JOB; `shard`
    is "K/N"; the rate limits are "N" or "model=N,...".
    """

    target: str | None = None
    synchronous: bool = False
    out: str | None = None
    lock: str | None = None
    force: bool = False
    resubmit_unresolved: bool = False
    prune: bool = False
    max_images: int | None = None
    max_cost: float | None = None
    shard: str | None = None
    jobs: tuple[str, ...] = ()
    junit: str | None = None
    submit_rps: str | None = None
    max_in_flight: str | None = None
    query_rps: str | None = None
    emulator_speed: float | None = None
