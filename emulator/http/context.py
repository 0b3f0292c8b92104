"""What a handler reaches through its request: the emulator's state, the facts noted for the log.

The state lives on the application under one typed key; what handlers learn about a request
(account, model, task id, error code, faults fired) is kept on the request, in a dict that the
application's middleware sets before anything else runs, and records in the log at the end.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

from wanform.emulator.state import ids
from wanform.emulator.state.accounts import Account
from wanform.emulator.state.instance import Emulator

EMULATOR = web.AppKey("emulator", Emulator)
NOTE = web.RequestKey("wanform.request_facts", dict)


def facts(request: web.Request) -> dict:
    """What handlers have noted about the request so far."""
    return request[NOTE]


def note(request: web.Request, **fields: object) -> None:
    """Record facts for the request's log entry (account key id, model, task_id, code, faults)."""
    noted = request[NOTE]
    for name, value in fields.items():
        if value is not None:
            noted[name] = value


def unverified(request: web.Request, *ids: str | None) -> None:
    """Note that the answer rests on these guesses (spec/guesses.yaml ids), in first-use order;
    they go to the `X-Wanform-Unverified` header and the request log."""
    noted = facts(request).setdefault("unverified", [])
    noted.extend(i for i in ids if i and i not in noted)


def request_id(request: web.Request) -> str:
    """The request's id, made on first use; every answer and the log entry carry it."""
    noted = facts(request)
    if "request_id" not in noted:
        noted["request_id"] = ids.uuid4()
    return noted["request_id"]


def service_date(request: web.Request) -> str:
    """The `Date` of an answer, on the virtual clock, as a service's answers carry its own time: a
    client reads the service's clock from it (a skewed or fast clock included)."""
    return _http_date(int(request.app[EMULATOR].clock.now()))


@functools.lru_cache(maxsize=1)  # whole seconds: formatting it is a good part of a task query
def _http_date(second: int) -> str:
    return format_datetime(datetime.fromtimestamp(second, UTC), usegmt=True)


def base_url(request: web.Request) -> str:
    """Where clients reach this emulator: the configured public URL, else the request's own Host."""
    public = request.app[EMULATOR].config.public_url
    return (public or f"{request.scheme}://{request.host}").rstrip("/")


def caller(request: web.Request) -> Account:
    """The account whose key authorizes the request (else 401 InvalidApiKey), noted for the log."""
    account = request.app[EMULATOR].accounts.authenticate(request.headers.get("Authorization", ""))
    note(request, account=account.key_id)
    return account
