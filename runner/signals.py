"""How a `wanform` process ends on Ctrl-C (SIGINT) or SIGTERM (`docker stop`, CI runners): in
order whenever the signal comes, with exit 128 + its number (130, 143), never a traceback.

`install` runs first thing in the process (wanform.runner.console) and its handler stays until the
process
exits. A first signal raises `Signalled` where the process is, which unwinds it (run guard
released, journal closed) to one line on stderr. Inside a `held` block (a run's jobs and the lock
that records them) it is only noted, and raised as the block ends. While the jobs run, the engine
catches it on its event loop (`caught`), or `take`s the one noted as they started, and cancels the
PENDING tasks before the run ends. A second signal ends the process at once.

A raised `Signalled` can be swallowed where Python cannot raise (a weakref callback of the import
system, a `__del__`): the process goes on as if nothing came. So a signal nothing has acted on
yet is raised again at the next checkpoint (a held block's start and end) and decides the exit
status at the end (`unheeded`).

The state is the process's own, as its signal handlers are: one instance, never configured.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from typing import NoReturn

SIGNALS = (signal.SIGINT, signal.SIGTERM)
SAID = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)"}


class Signalled(SystemExit):
    """A first SIGINT or SIGTERM, raised where the process was. A SystemExit (128 + its number):
    asyncio lets it out of its loop, and click does not turn it into "Aborted!"."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def end(self) -> NoReturn:
        _end(self.signum)


class _Process:
    """The process's signal state: the first signal, and what a signal does now."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.noted: int | None = None  # a held block noted it; nothing has acted on it yet
        self.heeded = False  # code acted on the first signal (took, caught or unwound by it)
        self.holding = 0
        self.consequence = ""

    def handle(self, signum: int, frame: object) -> None:
        if self.first is not None:
            _end(self.first)
        self.first = signum
        if self.holding:
            self.noted = signum
            return
        raise Signalled(signum)


_process = _Process()


def install() -> None:
    """Handle SIGINT and SIGTERM from now on (one the parent set to be ignored stays ignored)."""
    for sig in SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _process.handle)


def on_stop(consequence: str) -> None:
    """What the line a signal ends the command with says after `interrupted; `."""
    _process.consequence = consequence


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A first signal within the block is noted, not raised, so that what the block writes is
    whole; it is raised as the block ends, unless `take` handed it to code that acted on it."""
    again = unheeded()
    if again is not None and not _process.holding:  # raised before, and swallowed
        raise Signalled(again)
    _process.holding += 1
    try:
        yield
    finally:
        _process.holding -= 1
        noted = _process.noted
        if noted is not None and not _process.holding:
            _process.noted = None
            raise Signalled(noted)
        again = unheeded()
        if again is not None and not _process.holding:
            raise Signalled(again)


def take() -> int | None:
    """The signal a held block noted, now the caller's to act upon; None when there is none."""
    noted, _process.noted = _process.noted, None
    if noted is not None:
        _process.heeded = True
    return noted


def caught(signum: int) -> None:
    """The caller caught `signum` itself (on an event loop) and acts upon it: a later signal ends
    the process at once."""
    if _process.first is None:
        _process.first = signum
    _process.heeded = True


def heed() -> None:
    """A raised `Signalled` reached code that acts on it (the process ends by it)."""
    _process.heeded = True


def unheeded() -> int | None:
    """The first signal, when it was raised and nothing acted on it (an exception swallowed)."""
    if _process.first is None or _process.heeded or _process.noted is not None:
        return None
    return _process.first


@contextlib.contextmanager
def blocked() -> Iterator[None]:
    """SIGINT and SIGTERM wait while handlers are swapped: between asyncio's removal of its own and
    the return of the one before, the default action would kill the process."""
    mask = getattr(signal, "pthread_sigmask", None)  # Windows has none
    if mask is None:
        yield
        return
    before = mask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, before)


def _end(signum: int) -> NoReturn:
    """One line on stderr and exit 128 + `signum`. Nothing is flushed: the signal may have
    interrupted a write into a full pipe."""
    said = SAID.get(signal.Signals(signum), "stopped")
    tail = f"; {_process.consequence}" if _process.consequence else ""
    os.write(2, f"error: {said}{tail}\n".encode())
    os._exit(128 + signum)
