"""Starting a run: the embedded emulator when it is the target, the HTTP session, the journal, the
signals."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from wanform.runner import signals
from wanform.runner.api.client import Client, Timeouts, session
from wanform.runner.api.limits import Limits
from wanform.runner.api.targets import Target
from wanform.runner.engine.chain import Made
from wanform.runner.engine.journal import Journal
from wanform.runner.engine.run import Engine, RunOptions
from wanform.runner.engine.states import Progress, RunResult
from wanform.runner.files.areas import OutsideError, within
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.storage.location import is_stored
from wanform.spec.models import MODELS, ModelSpec

EMULATOR_SPEED = (
    10.0  # the embedded emulator runs ten times faster than DashScope's documented durations
)


@contextlib.asynccontextmanager
async def reachable(
    target: Target,
    announce: Callable[[str], None],
    speed: float = EMULATOR_SPEED,
    models: Mapping[str, ModelSpec] = MODELS,
) -> AsyncIterator[Target]:
    """The target ready to call: an embedded emulator is started on a free loopback port for the
    block's duration."""
    if not target.embedded:
        yield target
        return
    from wanform.emulator import (
        EmulatorConfig,
        start,
    )  # only runs without a real target need the emulator

    runner, base_url = await start(
        EmulatorConfig(host="127.0.0.1", port=0, speed=speed, models=models)
    )
    announce(
        f"running against the embedded emulator at {base_url} (offline, {speed:g}x speed, "
        "nothing is billed; set DASHSCOPE_API_KEY or pass --target to use DashScope)"
    )
    try:
        yield target.with_base_url(base_url)
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def interrupts(engine: Engine):
    """Ctrl-C and SIGTERM interrupt the run gracefully once, as does one that came while it started
    (runner/signals.py); a second one, and any after the jobs, goes to the handler that was there
    before (asyncio would put Python's default back)."""
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Any] = {}

    def restore() -> None:
        with signals.blocked():
            for sig, handler in previous.items():
                loop.remove_signal_handler(sig)
                if handler is not None:  # None: a handler not set from Python, not restorable
                    signal.signal(sig, handler)
        previous.clear()

    def first(signum: int) -> None:
        restore()
        signals.caught(signum)
        engine.interrupt(terminated=signum == signal.SIGTERM)

    for sig in signals.SIGNALS:
        handler = signal.getsignal(sig)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, first, sig)
            previous[sig] = handler
    noted = signals.take()
    if noted is not None:
        first(noted)
    try:
        yield
    finally:
        restore()


def check_journal(journal: Journal, areas: tuple[Path, ...]) -> None:
    """OutsideError naming the first journal entry whose recorded file leads out of `areas` (an
    object in a store is read and deleted only under the store's prefix)."""
    for key, record in journal.records.items():
        for output in record.outputs:
            file = output.get("file") if isinstance(output, dict) else None
            if not (isinstance(file, str) and file and (is_stored(file) or within(file, areas))):
                raise OutsideError(
                    f"{journal.path}: the entry of job {key} records {file!r}, which is outside "
                    "the project and the output folder"
                )


async def execute(
    jobs: list[CheckedJob],
    target: Target,
    limits: Limits,
    options: RunOptions,
    progress: Progress,
    root: str | Path = ".",
    timeouts: Timeouts = Timeouts(),
    models: Mapping[str, ModelSpec] = MODELS,
    *,
    known: Mapping[str, Mapping[int, Made]] | None = None,
    interruptible: bool = True,
) -> RunResult:
    """Run validated jobs against `target`, journaling under `root`/.wanform; `known` holds the
    files of upstream jobs outside the run. With `interruptible`, SIGINT and SIGTERM interrupt the
    run gracefully (`interrupts`); a library caller may leave its own handlers in place.

    An embedded emulator runs at `options.target_speed`, EMULATOR_SPEED when that is None.
    """
    if target.embedded and options.target_speed is None:
        options = replace(options, target_speed=EMULATOR_SPEED)
    async with reachable(
        target, progress.notice, options.target_speed or EMULATOR_SPEED, models
    ) as ready:
        with Journal(root) as journal:
            check_journal(journal, (Path(root), options.out))
            async with session(
                ready, limit=max(64, 4 * sum(limits.max_in_flight.values()))
            ) as http:
                client = Client(http, ready, timeouts)
                engine = Engine(jobs, client, journal, limits, options, progress, models, known)
                with interrupts(engine) if interruptible else contextlib.nullcontext():
                    return await engine.run()
