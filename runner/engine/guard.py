"""The run guard, `.wanform/run.guard`: one `wanform run` at a time in a project.

It is an OS-level lock (flock), so it goes away with the process that held it: a crash leaves
nothing stale to clear. The holder writes who it is to `.wanform/run.owner`, for the message a
refused run prints. Within one process the guard is re-entrant, so the CLI can hold it across plan,
jobs and lock update while the journal takes it again for the jobs alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from wanform.runner.api.errors import WanformError
from wanform.runner.files.areas import STATE_DIR
from wanform.runner.timestamps import utc_now

GUARD = "run.guard"
OWNER = "run.owner"


class RunBusy(WanformError):
    code = "RunBusy"
    hint = (
        "wait for it to end, or stop that process; the guard goes away when the process exits, "
        "even on a crash, so there is never a stale one to clear"
    )


@contextlib.contextmanager
def run_guard(root: str | os.PathLike) -> Iterator[None]:
    """Hold the project's run guard; raises RunBusy, naming the holder, if another process has
    it."""
    directory = Path(root) / STATE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(directory / GUARD), timeout=0, is_singleton=True)
    try:
        lock.acquire()
    except Timeout:
        holder = holder_of(Path(root)) or "its owner file is unreadable"
        raise RunBusy(f"another wanform run is using {Path(root).resolve()} ({holder})") from None
    owner = directory / OWNER
    first = lock.lock_counter == 1
    try:
        if first:
            owner.write_text(
                json.dumps(
                    {"pid": os.getpid(), "host": socket.gethostname(), "since": utc_now("seconds")}
                )
            )
        yield
    finally:
        if first:
            owner.unlink(missing_ok=True)
        lock.release()


def holder_of(root: Path) -> str:
    """Who holds the guard, as its owner file says (`pid 42 on host, since ...`), or '' if it does
    not say."""
    try:
        owner = json.loads((root / STATE_DIR / OWNER).read_text(encoding="utf-8"))
        return f"pid {int(owner['pid'])} on {owner['host']}, since {owner['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return ""
