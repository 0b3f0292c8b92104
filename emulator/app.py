"""The aiohttp application: factory, middlewares, lifecycle, and the ways to run it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import hdrs, web

from wanform.emulator.config import EmulatorConfig
from wanform.emulator.errors import (
    ConnectionDropped,
    ErrorReply,
    OssError,
    error_body,
    oss_error_body,
)
from wanform.emulator.http import admin, listings, storage, ui
from wanform.emulator.http import dashscope as routes
from wanform.emulator.http.client.inputurls import FETCHER, InputFetcher
from wanform.emulator.http.connections import DOORMAN, Doorman
from wanform.emulator.http.context import (
    EMULATOR,
    NOTE,
    facts,
    note,
    request_id,
    service_date,
    unverified,
)
from wanform.emulator.images.draw import CACHE_MAX_BYTES, PngCache
from wanform.emulator.images.inputstore import InputStore
from wanform.emulator.state.accounts import Accounts
from wanform.emulator.state.answers import QueryAnswers
from wanform.emulator.state.clock import VirtualClock
from wanform.emulator.state.faultbook import FaultBook, load_scenario
from wanform.emulator.state.instance import Emulator
from wanform.emulator.state.requestlog import RequestLog
from wanform.emulator.state.results import ResultStore
from wanform.emulator.state.tasks import TaskStore
from wanform.emulator.state.throttle import Throttle
from wanform.emulator.state.uploads import UploadStore
from wanform.spec.emulator.wire import ADMIN_PREFIX, UI, UNVERIFIED_HEADER
from wanform.spec.errors import (
    DOCUMENTED_MESSAGES,
    INTERNAL,
    PATH_NOT_FOUND,
    URL_ERROR,
    lookup,
)

LOG = logging.getLogger("wanform.emulator")
WORKERS = 4  # rendering and large-body validation threads
# real seconds a request still running at shutdown may take to finish, and again to be cancelled:
# `wanform emulator` exits within 2 s of SIGTERM, whatever its clients are waiting for
SHUTDOWN_SECONDS = 0.5


def _json_error(request: web.Request, status: int, code: str, message: str) -> web.Response:
    note(request, code=code)
    if request.path.startswith(storage.OSS_PATHS):
        return web.Response(
            status=status,
            text=oss_error_body(request_id(request), code, message),
            content_type="application/xml",
        )
    return web.json_response(error_body(request_id(request), code, message), status=status)


def _worded(request: web.Request, exc: ErrorReply) -> str:
    """The message of a refusal: where no page gives one, the emulator's own wording or the
    code's catalogue message, as the guess `errors.wording` says. Injected faults keep theirs."""
    if exc.message in DOCUMENTED_MESSAGES or facts(request).get("faults"):
        return exc.message
    unverified(request, "errors.wording")
    documented = lookup(exc.code)
    if request.app[EMULATOR].config.guess("errors.wording") == "generic" and documented:
        return documented.message or exc.message
    return exc.message


def _unrouted(request: web.Request, exc: web.HTTPException) -> web.Response:
    """No such route: an unknown service path is DashScope's "url error", anything else 404."""
    if exc.status == 405:
        response = _json_error(
            request, 405, "MethodNotAllowed", f"Method {request.method} is not allowed here."
        )
        # RFC 9110 requires a 405 to list the methods the resource does allow
        response.headers["Allow"] = exc.headers.get("Allow", "")
        return response
    if request.method == "POST" and request.path.startswith(routes.API + "/services/"):
        return _json_error(request, 400, "InvalidParameter", URL_ERROR)
    return _json_error(request, 404, "NotFound", PATH_NOT_FOUND)


def _client_gone(request: web.Request) -> web.Response:
    """The client hung up mid-request: its business, worth one line and no traceback."""
    LOG.info("client went away during %s %s", request.method, request.path)
    note(request, dropped=True)
    return web.Response(status=499)  # never reaches the client: the connection is gone


async def _answer(request: web.Request, handler, guarded: bool) -> web.StreamResponse:
    """The handler's answer; every failure leaves as DashScope's (or OSS's) error body, so
    nothing a client sends can produce a traceback. `guarded`: an admin route, `ui.check` first.
    """
    try:
        if guarded:
            ui.check(request)
        return await handler(request)
    except ErrorReply as exc:
        unverified(request, *exc.unverified)
        return _json_error(request, exc.status, exc.code, _worded(request, exc))
    except OssError as exc:
        return _json_error(request, exc.status, exc.code, exc.message)
    except ConnectionDropped:
        note(request, dropped=True)
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=499)  # never reaches the client: the connection is gone
    except web.HTTPException as exc:
        if exc.status < 400:
            exc.headers[hdrs.DATE] = service_date(request)
            raise
        return _unrouted(request, exc)
    except ConnectionResetError:  # aiohttp's "Connection lost" while reading a body
        return _client_gone(request)
    except Exception:
        LOG.exception("unexpected error on %s %s", request.method, request.path)
        return _json_error(request, 500, "InternalError", INTERNAL)


@web.middleware
async def front_middleware(request: web.Request, handler) -> web.StreamResponse:
    """The one middleware, as each layer costs every request a call: give the request its empty
    facts, tell the doorman a request head arrived, guard the admin routes, turn failures into
    error bodies, date the answer (a stream dates itself before it starts), and log every request
    but the admin API's with the status the client got (None: dropped).
    """
    noted: dict = {}
    request[NOTE] = noted
    app = request.app
    if request.transport is not None:
        app[DOORMAN].served(request.transport)
    path = request.path
    if path.startswith(ADMIN_PREFIX):
        response = await _answer(request, handler, path.startswith(ADMIN_PREFIX + "/"))
        if not response.prepared:
            response.headers[hdrs.DATE] = service_date(request)
        return response
    status = None
    try:
        response = await _answer(request, handler, False)
        status = response.status
        if not response.prepared:  # a stream sets its headers before it starts
            response.headers[hdrs.DATE] = service_date(request)
            guesses = noted.get("unverified")
            if guesses:
                response.headers[UNVERIFIED_HEADER] = ",".join(guesses)
        return response
    finally:
        emulator = app[EMULATOR]
        if noted.get("dropped"):
            status = None
        emulator.request_log.record(emulator.clock.now(), request.method, path, status, noted)


def _rules(config: EmulatorConfig) -> list:
    return [*(load_scenario(config.scenario) if config.scenario else []), *config.rules]


def create_app(config: EmulatorConfig | None = None) -> web.Application:
    """The emulator as an aiohttp application; ValueError for a bad configuration or scenario."""
    config = config or EmulatorConfig()
    # first: a bad scenario stops us before threads exist
    faults = FaultBook(config.seed, _rules(config))
    clock = VirtualClock(config.speed, config.clock_skew)
    executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="wanform-emulator")
    pngs = PngCache(CACHE_MAX_BYTES)
    inputs = InputStore(config.input_store_bytes)
    result_store = ResultStore(clock, executor, pngs, inputs)
    emulator = Emulator(
        config=config,
        clock=clock,
        accounts=Accounts(config.api_keys),
        throttle=Throttle(clock, config.models, config.throttle, config.query_rps),
        faults=faults,
        tasks=TaskStore(
            clock,
            config.models,
            config.pending_seconds,
            config.throttle,
            result_store.forget,
        ),
        results=result_store,
        uploads=UploadStore(clock),
        inputs=inputs,
        request_log=RequestLog(),
        answers=QueryAnswers(),
        pngs=pngs,
        executor=executor,
    )
    app = web.Application(middlewares=[front_middleware])
    app[EMULATOR] = emulator
    app[DOORMAN] = Doorman(config.request_seconds)
    app[FETCHER] = InputFetcher(
        max(spec.image.max_bytes for spec in config.models.values()), config.loopback_inputs
    )
    app.cleanup_ctx.append(_workers)
    app.cleanup_ctx.append(_doorman)
    app.cleanup_ctx.append(_input_files)
    for module in (routes, storage, admin, listings, ui):
        module.add_routes(app)
    return app


async def _input_files(app: web.Application) -> AsyncIterator[None]:
    """The input files' temporary directory, and the client that fetches input URLs, live as long
    as the application."""
    inputs = app[EMULATOR].inputs
    inputs.open()
    try:
        yield
    finally:
        inputs.close()
        await app[FETCHER].close()


async def _doorman(app: web.Application) -> AsyncIterator[None]:
    """The doorman patrols (once `start` shows it the server) as long as the application lives."""
    yield
    app[DOORMAN].stop()


async def _workers(app: web.Application) -> AsyncIterator[None]:
    """The worker threads live as long as the application."""
    yield
    app[EMULATOR].executor.shutdown(wait=False, cancel_futures=True)


def _base_url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{routes.API}"


async def start(config: EmulatorConfig | None = None) -> tuple[web.AppRunner, str]:
    """Run the emulator in this event loop; the default config listens on a free loopback port.

    Returns the runner (call `await runner.cleanup()` to stop) and the base URL, e.g.
    `http://127.0.0.1:54321/api/v1`.
    """
    config = config or EmulatorConfig(port=0)
    app = create_app(config)
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=config.keepalive_seconds,
        shutdown_timeout=SHUTDOWN_SECONDS,
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    assert runner.server is not None, "set up just now"
    app[DOORMAN].watch(runner.server)
    port = runner.addresses[0][1]
    return runner, _base_url(config.host, port)


async def _serve(config: EmulatorConfig) -> None:
    stop = asyncio.Event()
    # Windows has no SIGTERM handlers in asyncio
    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner, base_url = await start(config)
    # the base URL alone on the first line: scripts and tests read it from there
    print(base_url, flush=True)
    print(f"dashboard: {base_url.removesuffix(routes.API)}{UI}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(config: EmulatorConfig) -> None:
    """Serve until Ctrl-C or SIGTERM, after printing the base URL (`http://HOST:PORT/api/v1`)
    and, on the next line, the dashboard's (`dashboard: http://HOST:PORT/__emulator/ui/`)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config))
