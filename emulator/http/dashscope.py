"""The DashScope endpoints under /api/v1: the three submission routes and the task API.

A submission goes through the same gates, in this order: key, async header, body size and
JSON, model and route (`wanform.spec.schema.envelope_problem`), submission rate, the rest of the
contract (`wanform.spec.checks.check_body`), fault rules, in-flight cap; then a task is queued.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import hdrs, web
from yarl import URL

from wanform.emulator.errors import ErrorReply, bad_request, error_body, invalid_parameter
from wanform.emulator.http import replies as bodies
from wanform.emulator.http.client.inputurls import FETCHER
from wanform.emulator.http.context import (
    EMULATOR,
    base_url,
    caller,
    facts,
    note,
    request_id,
    service_date,
    unverified,
)
from wanform.emulator.http.faultinjection import Step, apply_to_task, checkpoint, faulty
from wanform.emulator.http.imagerefs import InputResolver, fetch_own_results
from wanform.emulator.http.requestbody import parse_json, read_body
from wanform.emulator.images.brief import Brief, brief_for
from wanform.emulator.state.accounts import Account
from wanform.emulator.state.clock import parse_list_time
from wanform.emulator.state.faultbook import Decision
from wanform.emulator.state.instance import Emulator
from wanform.emulator.state.tasks import Task
from wanform.spec.checks import check_body
from wanform.spec.emulator.wire import UNVERIFIED_HEADER
from wanform.spec.errors import (
    ACCESS_DENIED,
    ASYNC_NOT_SUPPORTED,
    CANCEL_NOT_PENDING,
    DOWNLOAD_FAILED,
    INTERNAL,
    SYNC_NOT_SUPPORTED,
)
from wanform.spec.models import (
    ASYNC_GENERATION_PATH,
    ASYNC_HEADER,
    HEADER_ON,
    LIMITS_GUESSES,
    OSS_RESOLVE_HEADER,
    SEED_MAX,
    SSE_HEADER,
    SYNC_PATH,
    SYNTHESIS_PATH,
    TASK_LIST_PAGE_NO_DEFAULT,
    TASK_LIST_PAGE_SIZE_DEFAULT,
    TASK_LIST_WINDOW_SECONDS,
    ModelSpec,
    TaskStatus,
    limits_alternatives,
)
from wanform.spec.problems import Problem
from wanform.spec.schema import envelope_problem

API = "/api/v1"
SUBMIT_ROUTES = {SYNC_PATH: "sync", ASYNC_GENERATION_PATH: "async", SYNTHESIS_PATH: "synthesis"}
OFF_LOOP_BYTES = (
    256 * 1024
)  # bodies this large carry images to decode: validate them in a worker thread
STARTED = frozenset({TaskStatus.RUNNING, TaskStatus.SUCCEEDED, TaskStatus.FAILED})
STATUSES = tuple(TaskStatus)
# task statuses whose query body's times are a guess (its value `bare` drops them)
BODY_GUESSES: dict[str, str] = {
    TaskStatus.PENDING: "task.pending_body",
    TaskStatus.RUNNING: "task.pending_body",
    TaskStatus.CANCELED: "task.canceled_body",
}
LAST_SECOND = 0.999  # list times have whole seconds: an end_time includes its last second
PAGE_DIGITS = 9  # page_no and page_size: ASCII digits, at most this many
# DashScope reports an input it cannot download as the task's failure (error-code page's message)
DOWNLOAD_FAILURE = ("InvalidParameter", DOWNLOAD_FAILED)
INTERLEAVE_NEEDS_STREAM = (
    "enable_interleave on the synchronous endpoint needs streaming: send the header "
    f"{SSE_HEADER}: {HEADER_ON} (and parameters.stream: true)"
)


def _enabled(request: web.Request, header: str) -> bool:
    return request.headers.get(header, "").strip().lower() == HEADER_ON


def route_model(body: dict, path: str, models: Mapping[str, ModelSpec]) -> ModelSpec:
    """The model named in the body, if it exists and is served at `path`."""
    problem = envelope_problem(body, models, path)
    if problem is not None:
        raise bad_request(problem.api_code, problem.message)
    return models[body["model"]]


def check_async_header(request: web.Request, endpoint: str) -> None:
    """The sync route refuses the async header; the async routes require it (403 AccessDenied)."""
    wants_async = _enabled(request, ASYNC_HEADER)
    if endpoint == "sync" and wants_async:
        raise ErrorReply(403, "AccessDenied", ASYNC_NOT_SUPPORTED)
    if endpoint != "sync" and not wants_async:
        raise ErrorReply(403, "AccessDenied", SYNC_NOT_SUPPORTED)


async def check_submission(
    request: web.Request,
    emulator: Emulator,
    account: Account,
    spec: ModelSpec,
    body: dict,
    size: int,
) -> InputResolver:
    """Run the shared contract on the body; the first error is the answer (400, its api_code)."""
    hosts = frozenset({request.host, URL(base_url(request)).raw_authority})
    own = await fetch_own_results(body, hosts, emulator.results)
    oss_resolve = _enabled(request, OSS_RESOLVE_HEADER)
    resolver = InputResolver(spec, emulator.uploads, account, oss_resolve, own, {})
    problems = await _checked(emulator, spec, body, resolver, size)
    errors = [p for p in problems if p.severity == "error"]
    if resolver.unfetched and not errors:  # valid whatever the URLs hold: read them, check again
        outcomes = await asyncio.gather(*map(request.app[FETCHER].fetch, resolver.unfetched))
        outside = dict(zip(resolver.unfetched, outcomes, strict=True))
        resolver = InputResolver(spec, emulator.uploads, account, oss_resolve, own, outside)
        problems = await _checked(emulator, spec, body, resolver, size)
        errors = [p for p in problems if p.severity == "error"]
    limits = await _limits_guess(emulator, spec, body, resolver, size, problems)
    if errors:
        first = errors[0]
        raise bad_request(first.api_code, first.message, tuple(filter(None, (first.guess, limits))))
    unverified(request, *(p.guess for p in problems), limits, *sorted(resolver.unverified))
    return resolver


async def _checked(
    emulator: Emulator, spec: ModelSpec, body: dict, resolver: InputResolver, size: int
) -> list[Problem]:
    """`check_body`, in a worker thread for a body large enough to carry images to decode."""
    if size < OFF_LOOP_BYTES:
        return check_body(spec, body, images=resolver)
    check = functools.partial(check_body, spec, body, images=resolver)
    return await asyncio.get_running_loop().run_in_executor(emulator.executor, check)


async def _limits_guess(
    emulator: Emulator,
    spec: ModelSpec,
    body: dict,
    resolver: InputResolver,
    size: int,
    problems: list[Problem],
) -> str | None:
    """The model's limits guess (`wanform.spec.models.LIMITS_GUESSES`) when another of its values
    would answer the body otherwise: the answer, acceptance or refusal, rests on it."""
    refusal = [p.code for p in problems if p.severity == "error"][:1]
    for other in limits_alternatives(spec):
        found = await _checked(emulator, other, body, resolver, size)
        if [p.code for p in found if p.severity == "error"][:1] != refusal:
            return LIMITS_GUESSES[spec.name]
    return None


@dataclass(frozen=True)
class Submission:
    """A queued task, the fault step of its request, and whether its answer is streamed."""

    task: Task
    faults: Step
    streamed: bool


def _streamed(request: web.Request, body: dict, endpoint: str, style: str) -> bool:
    """Whether a sync call asks for SSE: the header, or `parameters.stream` alone if the guess
    `sse.stream_param` says so; interleaved output must stream."""
    if endpoint != "sync":
        return False
    header = _enabled(request, SSE_HEADER)
    by_parameter = not header and (body.get("parameters") or {}).get("stream") is True
    if by_parameter:
        unverified(request, "sse.stream_param")
    either = request.app[EMULATOR].config.guess("sse.stream_param") == "either"
    streamed = header or (by_parameter and either)
    if style == "interleave" and not streamed:
        raise invalid_parameter(
            INTERLEAVE_NEEDS_STREAM, tuple(facts(request).get("unverified", ()))
        )
    return streamed


async def submit(request: web.Request, endpoint: str) -> Submission:
    """Everything a submission goes through, up to a queued task."""
    emulator = request.app[EMULATOR]
    account = caller(request)
    check_async_header(request, endpoint)
    raw = await read_body(request, emulator.config.max_body_bytes)
    body = parse_json(raw)
    spec = route_model(body, request.path.removeprefix(API), emulator.config.models)
    note(request, model=spec.name)
    emulator.throttle.submit(account, spec.name)
    resolver = await check_submission(request, emulator, account, spec, body, len(raw))
    brief = brief_for(
        spec,
        body,
        resolver.infos,
        resolver.data,
        emulator.config.models,
        zlib.crc32(raw) % (SEED_MAX + 1),
        emulator.inputs,
    )
    try:
        streamed, faults = await _last_gates(request, account, spec, body, endpoint, brief)
    except BaseException:  # refused, or the client went away: no task will hold the inputs
        for handle in brief.stored:
            emulator.inputs.settle(handle)
            emulator.inputs.release(handle)
        raise
    task = emulator.tasks.submit(
        account, brief, endpoint, request_id(request), visible=endpoint != "sync"
    )
    if resolver.download_failed:
        task.failure = DOWNLOAD_FAILURE
    apply_to_task(request, task, faults)
    task.unverified = tuple(facts(request).get("unverified", ()))
    emulator.results.register(task)
    return Submission(task, faults, streamed)


async def _last_gates(
    request: web.Request,
    account: Account,
    spec: ModelSpec,
    body: dict,
    endpoint: str,
    brief: Brief,
) -> tuple[bool, Step]:
    """Streaming, fault rules and the in-flight cap; whether the answer streams, the fault step.
    The brief's guesses are named once it passed them: a refusal does not rest on them."""
    streamed = _streamed(request, body, endpoint, brief.style)
    faults = await checkpoint(request, account, spec.name, brief.prompt)
    emulator = request.app[EMULATOR]
    if emulator.throttle.admit(
        emulator.tasks.in_flight(account, spec.name), spec, emulator.config.queues_over_cap
    ):
        unverified(request, "service.over_cap")
    unverified(request, *brief.unverified)
    return streamed, faults


def url_for(request: web.Request) -> bodies.UrlFor:
    """Result URLs as this client reaches the emulator; the base is read only when a URL is made,
    as most task queries (pending, running) make none."""
    emulator = request.app[EMULATOR]
    return lambda task, index: emulator.results.url(base_url(request), task, index)


async def submit_async(request: web.Request) -> web.Response:
    """POST image-generation/generation or image2image/image-synthesis: queue, answer PENDING."""
    done = await submit(request, SUBMIT_ROUTES[request.path.removeprefix(API)])
    note(request, task_id=done.task.task_id)
    return web.json_response(bodies.created(done.task, request_id(request)))


async def submit_sync(request: web.Request) -> web.StreamResponse:
    """POST multimodal-generation/generation: run the task, answer with (or stream) its result."""
    emulator = request.app[EMULATOR]
    done = await submit(request, "sync")
    if done.streamed:
        return await _stream(request, emulator, done)
    status = await emulator.tasks.finished(done.task)
    if status == TaskStatus.FAILED:
        raise _failure(done.task, done.faults.decision)
    return web.json_response(bodies.sync(done.task, request_id(request), url_for(request)))


def _failure(task: Task, decision: Decision) -> ErrorReply:
    """A sync call whose task failed answers with the error of the rule that failed it, else
    with the task's own failure (400: its input)."""
    rule = decision.action("fail", "partial")
    if rule is not None:
        return ErrorReply(rule.status, rule.code, rule.message)
    if task.failure is not None:
        return ErrorReply(400, *task.failure)
    return ErrorReply(500, "InternalError", INTERNAL)


def sse_event(number: int, status: int, payload: dict, framing: str = "comment") -> bytes:
    """One event in DashScope's SSE framing; its status line as the guess `sse.framing` says."""
    event = "result" if status == 200 else "error"
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    line = f":HTTP_STATUS/{status}" if framing == "comment" else f"status:{status}"
    return f"id:{number}\nevent:{event}\n{line}\ndata:{data}\n\n".encode()


async def _stream(request: web.Request, emulator: Emulator, done: Submission) -> web.StreamResponse:
    """Send the result piece by piece, spread over the task's run on the virtual clock."""
    task = done.task
    framing = emulator.config.guess("sse.framing")
    unverified(request, "sse.framing")
    await emulator.tasks.reached(task, STARTED)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream;charset=UTF-8",
            "Cache-Control": "no-cache",
            UNVERIFIED_HEADER: ",".join(facts(request)["unverified"]),
            hdrs.DATE: service_date(request),
        }
    )
    await response.prepare(request)
    if task.failed():
        await emulator.tasks.finished(task)
        error = _failure(task, done.faults.decision)
        note(request, code=error.code)
        await response.write(
            sse_event(
                1,
                error.status,
                error_body(request_id(request), error.code, error.message),
                framing,
            )
        )
        return response
    events = bodies.stream(task, request_id(request), url_for(request))
    start = task.scheduled
    assert start is not None, "a task that has STARTED is scheduled"
    for number, payload in enumerate(events, 1):
        await emulator.clock.sleep_until(start + task.duration * number / len(events))
        await response.write(sse_event(number, 200, payload, framing))
    await emulator.tasks.finished(task)
    # no write_eof: aiohttp ends the stream after the fault step, which may drop it instead
    return response


def _task_api(request: web.Request) -> tuple[Emulator, Account]:
    """Authenticate a task-API request and count it against the account's query rate."""
    emulator = request.app[EMULATOR]
    account = caller(request)
    emulator.throttle.query(account)
    return emulator, account


async def get_task(request: web.Request) -> web.Response:
    """GET /tasks/{task_id}: the task in its model's style; UNKNOWN when missing, expired or
    someone else's.
    """
    emulator, account = _task_api(request)
    task_id = request.match_info["task_id"]
    task = emulator.tasks.get(account, task_id)
    note(request, task_id=task_id, model=task.brief.model if task else None)
    await _task_checkpoint(request, account, task)
    if task is None:
        _unknown(request, emulator, account, task_id)
        return web.json_response(bodies.unknown(task_id, request_id(request)))
    now = emulator.clock.now()
    status = task.status(now)
    body_guess = _body_guess(task, status)
    unverified(request, *task.unverified, body_guess)
    choice = emulator.config.guess(body_guess) if body_guess else None
    bare = choice == "bare"
    on_top = choice == "top"
    body = emulator.answers.body(
        task_id,
        status,
        base_url(request) if status == TaskStatus.SUCCEEDED else "",  # only results link to it
        request_id(request),
        lambda placeholder: bodies.task(task, now, placeholder, url_for(request), bare, on_top),
    )
    return web.Response(body=body, content_type="application/json", charset="utf-8")


def _body_guess(task: Task, status: str) -> str | None:
    """The guess the shape of a task's query body in `status` rests on, if one does."""
    if status == TaskStatus.FAILED and task.brief.style != "results":
        return "task.failed_output"
    return BODY_GUESSES.get(status)


def _unknown(request: web.Request, emulator: Emulator, account: Account, task_id: str) -> None:
    """Another account's task reads as unknown, or is refused: the guess `task.other_account`."""
    if emulator.tasks.held_elsewhere(account, task_id):
        unverified(request, "task.other_account")
        if emulator.config.guess("task.other_account") == "denied":
            raise ErrorReply(403, "AccessDenied", ACCESS_DENIED)


async def _task_checkpoint(request: web.Request, account: Account, task: Task | None) -> None:
    """The fault step of a request about one task, matching on its model and prompt if known."""
    if task is None:
        await checkpoint(request, account)
    else:
        await checkpoint(request, account, task.brief.model, task.brief.prompt)


async def cancel_task(request: web.Request) -> web.Response:
    """POST /tasks/{task_id}/cancel: only a PENDING task can be canceled."""
    emulator, account = _task_api(request)
    task_id = request.match_info["task_id"]
    task = emulator.tasks.get(account, task_id)
    note(request, task_id=task_id, model=task.brief.model if task else None)
    await _task_checkpoint(request, account, task)
    if task is None:  # unknown, expired or another account's: the guess `cancel.unknown_task`
        unverified(request, "cancel.unknown_task")
        if emulator.config.guess("cancel.unknown_task") == "ok":
            return web.json_response({"request_id": request_id(request)})
    else:
        unverified(request, *task.unverified)
    if task is None or not emulator.tasks.cancel(account, task_id):
        raise bad_request("UnsupportedOperation", CANCEL_NOT_PENDING)
    emulator.results.settle(task)
    return web.json_response({"request_id": request_id(request)})


def _list_time(query: Mapping[str, str], name: str) -> float | None:
    if not query.get(name):
        return None
    try:
        return parse_list_time(query[name])
    except ValueError:
        raise invalid_parameter(
            f"{name} must be a time like 20250101083000 (YYYYMMDDhhmmss)"
        ) from None


def _window(query: Mapping[str, str], now: float) -> tuple[float, float]:
    """The creation-time window of a list query: at most 24 h, the last 24 h by default."""
    start, end = _list_time(query, "start_time"), _list_time(query, "end_time")
    if end is None:
        end = now if start is None else start + TASK_LIST_WINDOW_SECONDS
    if start is None:
        start = end - TASK_LIST_WINDOW_SECONDS
    if not 0 <= end - start <= TASK_LIST_WINDOW_SECONDS:
        raise invalid_parameter("end_time must be after start_time, at most 24 hours later")
    return start, end + (LAST_SECOND if query.get("end_time") else 0)


def _page(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name, str(default))
    # str.isdigit takes any script's digits (and "²", which int() refuses); 9 digits is plenty
    if not (text.isascii() and text.isdigit() and len(text) <= PAGE_DIGITS) or int(text) < 1:
        raise invalid_parameter(f"{name} must be a positive integer, got {text!r}")
    return int(text)


def _listed(task: Task, query: Mapping[str, str], window: tuple[float, float], now: float) -> bool:
    return (
        window[0] <= task.submitted <= window[1]
        and query.get("task_id", task.task_id) == task.task_id
        and query.get("model_name", task.brief.model) == task.brief.model
        and query.get("status", task.status(now)) == task.status(now)
    )


async def list_tasks(request: web.Request) -> web.Response:
    """GET /tasks: the account's tasks created in a window (default: the last 24 h), newest first,
    by page.
    """
    emulator, account = _task_api(request)
    await checkpoint(request, account)
    query = request.query
    now = emulator.clock.now()
    if query.get("status", "PENDING") not in STATUSES:  # nothing has it: the list is empty
        unverified(request, "task.list_status")
        if emulator.config.guess("task.list_status") == "refuse":
            raise invalid_parameter(f"status must be one of {', '.join(STATUSES)}")
    window, page_no, page_size = (
        _window(query, now),
        _page(query, "page_no", TASK_LIST_PAGE_NO_DEFAULT),
        _page(query, "page_size", TASK_LIST_PAGE_SIZE_DEFAULT),
    )
    found = [t for t in emulator.tasks.tasks(account) if _listed(t, query, window, now)][::-1]
    page = found[(page_no - 1) * page_size : page_no * page_size]
    return web.json_response(
        {
            "total": len(found),
            "data": [bodies.list_entry(t, now) for t in page],
            "total_page": math.ceil(len(found) / page_size),
            "page_no": page_no,
            "request_id": request_id(request),
            "page_size": page_size,
        }
    )


def add_routes(app: web.Application) -> None:
    for path, endpoint in SUBMIT_ROUTES.items():
        submit_handler = submit_sync if path == SYNC_PATH else submit_async
        app.router.add_post(API + path, faulty(endpoint, submit_handler))
    # the SDK's async classes add a trailing slash: both forms are served
    for slash in ("", "/"):
        app.router.add_get(API + "/tasks/{task_id}" + slash, faulty("task", get_task))
        app.router.add_post(API + "/tasks/{task_id}/cancel" + slash, faulty("cancel", cancel_task))
    app.router.add_get(API + "/tasks", faulty("list", list_tasks))
    app.router.add_get(API + "/tasks/", faulty("list", list_tasks))
