"""The request log: an entry per request to the API, uploads and result files, for tests to read."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator, Mapping

from wanform.emulator.state.clock import task_time

REQUEST_LOG_LIMIT = 100_000  # oldest entries are dropped beyond this


class RequestLog:
    """Entries in arrival order: time, account key id, method, path, model, status, code, task,
    fault rules fired, and the guesses (spec/guesses.yaml ids) the answer rested on."""

    def __init__(self) -> None:
        self._entries: deque[dict] = deque(maxlen=REQUEST_LOG_LIMIT)

    def record(
        self, now: float, method: str, path: str, status: int | None, noted: Mapping
    ) -> None:
        """Add the entry for a finished request from what its handlers `noted`; `status` None
        means the connection was dropped."""
        self._entries.append(
            {
                "time": now,  # formatted when read: recording must stay cheap
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
        )

    def entries(self, account: str | None = None, last: int | None = None) -> Iterator[dict]:
        """All entries (or the `last` ones), or those of one account key id, in arrival order,
        their time as `YYYY-MM-DD HH:mm:ss.SSS` (UTC+8)."""
        chosen: Iterable[dict] = (
            e for e in self._entries if account is None or e["account"] == account
        )
        if last is not None:  # from the newest end: a dashboard asks every second
            newest = (
                e for e in reversed(self._entries) if account is None or e["account"] == account
            )
            chosen = reversed(list(itertools.islice(newest, last)))
        return (dict(e, time=task_time(e["time"])) for e in chosen)

    def reset(self) -> None:
        self._entries.clear()
