"""The request log: an entry per request to the API, uploads and result files, for tests to read."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator, Mapping

from wanform.emulator.state.clock import task_time

REQUEST_LOG_LIMIT = 100_000  # oldest entries are dropped beyond this


# what `record` keeps: time, method, path, status, and the request's noted facts as they are
_Kept = tuple[float, str, str, int | None, Mapping]


class RequestLog:
    """Entries in arrival order: time, account key id, method, path, model, status, code, task,
    fault rules fired, and the guesses (spec/guesses.yaml ids) the answer rested on."""

    def __init__(self) -> None:
        self._entries: deque[_Kept] = deque(maxlen=REQUEST_LOG_LIMIT)

    def record(
        self, now: float, method: str, path: str, status: int | None, noted: Mapping
    ) -> None:
        """Add the entry for a finished request from what its handlers `noted` (kept, not copied:
        nothing notes a request once it is recorded); `status` None means the connection was
        dropped. An entry is only built when read: recording must stay cheap."""
        self._entries.append((now, method, path, status, noted))

    def entries(self, account: str | None = None, last: int | None = None) -> Iterator[dict]:
        """All entries (or the `last` ones), or those of one account key id, in arrival order,
        their time as `YYYY-MM-DD HH:mm:ss.SSS` (UTC+8)."""
        chosen: Iterable[_Kept] = (
            e for e in self._entries if account is None or e[4].get("account") == account
        )
        if last is not None:  # from the newest end: a dashboard asks every second
            newest = (
                e
                for e in reversed(self._entries)
                if account is None or e[4].get("account") == account
            )
            chosen = reversed(list(itertools.islice(newest, last)))
        return map(_entry, chosen)

    def reset(self) -> None:
        self._entries.clear()


def _entry(kept: _Kept) -> dict:
    now, method, path, status, noted = kept
    return {
        "time": task_time(now),
        "account": noted.get("account"),
        "method": method,
        "path": path,
        "model": noted.get("model"),
        "status": status,
        "code": noted.get("code"),
        "task_id": noted.get("task_id"),
        "request_id": noted.get("request_id"),
        "faults": noted.get("faults", []),
        "unverified": noted.get("unverified", []),
    }
