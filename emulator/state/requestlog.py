"""The request journal: one entry per request to the API, uploads and result files, for tests to read."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterator

from aiohttp import web

from emulator.state.clock import task_time

JOURNAL_LIMIT = 100_000  # oldest entries are dropped beyond this
NOTE = web.RequestKey(
    "wanform.journal", dict
)  # where handlers leave model, task_id, code for the journal


def facts(request: web.Request) -> dict:
    """What handlers have noted about the request so far."""
    noted = request.get(NOTE)
    if noted is None:
        noted = request[NOTE] = {}
    return noted


def note(request: web.Request, **fields: object) -> None:
    """Record facts about the request for its journal entry (account key id, model, task_id, code, faults)."""
    facts(request).update({k: v for k, v in fields.items() if v is not None})


def request_id(request: web.Request) -> str:
    """The request's id, made on first use; every answer and the journal entry carry it."""
    noted = facts(request)
    if "request_id" not in noted:
        noted["request_id"] = str(uuid.uuid4())
    return noted["request_id"]


class RequestLog:
    """Entries in arrival order: time, account key id, method, path, model, status, code, task_id."""

    def __init__(self) -> None:
        self._entries: deque[dict] = deque(maxlen=JOURNAL_LIMIT)

    def record(self, request: web.Request, now: float, status: int | None) -> None:
        """Add the entry for a finished request; `status` None means the connection was dropped."""
        noted = facts(request)
        self._entries.append(
            {
                "time": now,  # formatted when read: recording must stay cheap
                "account": noted.get("account"),
                "method": request.method,
                "path": request.path,
                "model": noted.get("model"),
                "status": status,
                "code": noted.get("code"),
                "task_id": noted.get("task_id"),
                "request_id": noted.get("request_id"),
                "faults": noted.get("faults", []),
            }
        )

    def entries(self, account: str | None = None) -> Iterator[dict]:
        """All entries, or those of one account key id, with their time as `YYYY-MM-DD HH:mm:ss.SSS` (UTC+8)."""
        return (
            dict(e, time=task_time(e["time"]))
            for e in self._entries
            if account is None or e["account"] == account
        )

    def reset(self) -> None:
        self._entries.clear()
