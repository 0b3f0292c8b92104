"""The admin API under /__emulator/: reset, the virtual clock, fault rules, the request log.

POST   /__emulator/reset             forget tasks, uploads, limits, request log, rendered images,
                                     fetched input URLs; the configured faults only; rewind the
                                     clock
GET    /__emulator/clock             {"now": epoch s, "time": "YYYY-MM-DD HH:mm:ss.SSS", "speed"}
POST   /__emulator/clock/advance     {"seconds": 3600} moves the virtual clock forward (by at
                                     most ten years at a time)
GET    /__emulator/faults            the active rules with their counters
POST   /__emulator/faults            a rule or a list of rules (see
                                     wanform.emulator.state.faultbook); 201 with their ids
DELETE /__emulator/faults[/{id}]     all rules, or one
GET    /__emulator/requests[?account=ID&limit=N]  the request log, in order (the last N);
                                     with `Authorization: Bearer <key>`, that key's only;
                                     /__emulator/journal is its first name, still served
GET    /__emulator/hold              {"held": [model, ...]}
POST   /__emulator/hold              {"model": M}: the model's new tasks stay PENDING (cancel
                                     them, or let them go with release)
POST   /__emulator/release           {"model": M}: its held tasks start; {"released": count}

Task and account listings are in `wanform.emulator.http.listings`; who may call is
`wanform.emulator.http.ui`'s.
"""

from __future__ import annotations

from aiohttp import web

from wanform.emulator.errors import ErrorReply, invalid_parameter
from wanform.emulator.http.client.inputurls import FETCHER
from wanform.emulator.http.context import EMULATOR
from wanform.emulator.http.listings import limit
from wanform.emulator.http.requestbody import parse_document, parse_json, read_body
from wanform.emulator.state.accounts import key_id
from wanform.emulator.state.clock import task_time
from wanform.emulator.state.instance import Emulator
from wanform.spec.emulator.wire import (
    CLOCK,
    CLOCK_ADVANCE,
    FAULTS,
    HOLD,
    JOURNAL,
    RELEASE,
    REQUESTS,
    RESET,
)

ADMIN_BODY_LIMIT = 1024 * 1024


def _clock(emulator: Emulator) -> dict:
    now = emulator.clock.now()
    return {"now": now, "time": task_time(now), "speed": emulator.clock.speed}


async def reset(request: web.Request) -> web.Response:
    request.app[EMULATOR].reset()
    request.app[FETCHER].reset()
    return web.json_response({"reset": True})


async def clock(request: web.Request) -> web.Response:
    return web.json_response(_clock(request.app[EMULATOR]))


async def advance(request: web.Request) -> web.Response:
    """Move the virtual clock forward by `seconds`; tasks, limits and links see it at once."""
    emulator = request.app[EMULATOR]
    seconds = parse_json(await read_body(request, ADMIN_BODY_LIMIT)).get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise invalid_parameter(f"seconds must be a number of 0 or more, got {seconds!r}")
    try:
        emulator.clock.advance(seconds)
    except ValueError as exc:  # negative, NaN, over ten years, past the clock's range
        raise invalid_parameter(f"{exc}, got {seconds!r}") from None
    return web.json_response(_clock(emulator))


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": [r.describe() for r in request.app[EMULATOR].faults.rules]})


async def add_faults(request: web.Request) -> web.Response:
    data = parse_document(await read_body(request, ADMIN_BODY_LIMIT))
    try:
        rules = request.app[EMULATOR].faults.add(data)
    except ValueError as exc:
        raise invalid_parameter(str(exc)) from None
    return web.json_response({"faults": [r.describe() for r in rules]}, status=201)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[EMULATOR].faults.clear()
    return web.json_response({"faults": []})


async def delete_fault(request: web.Request) -> web.Response:
    rule_id = request.match_info["rule_id"]
    if not request.app[EMULATOR].faults.remove(rule_id):
        raise ErrorReply(404, "NotFound", f"no fault rule {rule_id}")
    return web.json_response({"deleted": rule_id})


async def request_log(request: web.Request) -> web.Response:
    """The request log, of one account when asked by key (Authorization) or by key id
    (?account=)."""
    header = request.headers.get("Authorization", "")
    account = key_id(header.partition(" ")[2].strip()) if header else request.query.get("account")
    last = limit(request) if "limit" in request.query else None
    entries = list(request.app[EMULATOR].request_log.entries(account, last))
    return web.json_response({"entries": entries})


async def _model(request: web.Request) -> str:
    model = parse_json(await read_body(request, ADMIN_BODY_LIMIT)).get("model")
    if not isinstance(model, str) or model not in request.app[EMULATOR].config.models:
        raise invalid_parameter(f"model must be one the emulator serves, got {model!r}")
    return model


async def held(request: web.Request) -> web.Response:
    return web.json_response({"held": request.app[EMULATOR].tasks.held()})


async def hold(request: web.Request) -> web.Response:
    """Hold the model's new tasks in PENDING until released."""
    emulator = request.app[EMULATOR]
    emulator.tasks.hold(await _model(request))
    return web.json_response({"held": emulator.tasks.held()})


async def release(request: web.Request) -> web.Response:
    """Let the model's held tasks run."""
    return web.json_response(
        {"released": request.app[EMULATOR].tasks.release(await _model(request))}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(HOLD, held)
    app.router.add_post(HOLD, hold)
    app.router.add_post(RELEASE, release)
    app.router.add_post(RESET, reset)
    app.router.add_get(CLOCK, clock)
    app.router.add_post(CLOCK_ADVANCE, advance)
    app.router.add_get(FAULTS, list_faults)
    app.router.add_post(FAULTS, add_faults)
    app.router.add_delete(FAULTS, clear_faults)
    app.router.add_delete(FAULTS + "/{rule_id}", delete_fault)
    for route in (REQUESTS, JOURNAL):
        app.router.add_get(route, request_log)
