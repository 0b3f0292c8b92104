"""The exit codes of `wanform`, each with its meaning: the help text and the run verdicts come
from here."""

from __future__ import annotations

import contextlib
import os
import sys
from enum import IntEnum
from typing import NoReturn


class Exit(IntEnum):
    """What a `wanform` process says with its exit status."""

    OK = 0
    INVALID = 1
    USAGE = 2
    FAILED = 3
    STOPPED = 4
    INTERRUPTED = 130
    TERMINATED = 143

    @property
    def verdict(self) -> str:
        """The word a report opens with: ok, failed, stopped, interrupted, terminated."""
        return self.name.lower()


# `plan --detailed-exitcode` reuses click's usage code, as terraform does, for "changes pending".
CHANGES_PENDING = Exit.USAGE

MEANINGS = {
    Exit.OK: "success (`run`: every job succeeded)",
    Exit.INVALID: "invalid input: a recipe, or a path that holds none; nothing was sent",
    Exit.USAGE: "usage error (an unknown option or a bad value); "
    "`plan --detailed-exitcode`: changes pending",
    Exit.FAILED: "`run`: some jobs or images failed, a job is unresolved, or one is blocked by "
    "its upstream (the others are kept); `status`/`cancel`: the request failed; "
    "`contract check`: a case differs from its snapshot",
    Exit.STOPPED: "the run stopped early: an account-level error (bad key, arrears, no access), "
    "an unusable target, or a disk error (a journal, lock or file that cannot be written); the "
    "tasks billed are named, and a rerun fetches them without paying again",
    Exit.INTERRUPTED: "interrupted (Ctrl-C), at any moment: PENDING tasks were cancelled, "
    "a rerun resumes the rest",
    Exit.TERMINATED: "terminated (SIGTERM, as `docker stop` and CI runners send): as for 130",
}


def help_text() -> str:
    """The `Exit codes:` block of `wanform --help` and `wanform run --help`, which click leaves
    unwrapped (`\b`)."""
    rows = "".join(f"      {code:<5}{meaning}\n" for code, meaning in MEANINGS.items())
    return f"\n    \b\n    Exit codes:\n{rows}"


def own_process() -> bool:
    """Whether the command owns the process (not called in-process with captured output, as
    tests do)."""
    return sys.stdout is sys.__stdout__


def leave(code: int) -> NoReturn:
    """End the process with `code` once the command has unwound (its guards released, its files
    closed). A process of its own skips Python's finalization, which puts the default SIGINT
    handler back, so that a Ctrl-C there would kill the process by signal."""
    if not own_process():
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
