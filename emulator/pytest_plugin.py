"""A pytest plugin for users' own test suites: `wanform_emulator`, a running offline DashScope.

Registered through the `pytest11` entry point `wanform_emulator`. The emulator runs in-process
on a free loopback port with its event loop on a background thread, so synchronous code such as
the official `dashscope` SDK can call it. One server per test session; each test starts from a
reset emulator. Override the `wanform_emulator_config` fixture to change its settings (speed,
seed, ...); for a second emulator with other settings, start an `EmulatorThread` and call
`use_emulator` in a fixture of your own.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from wanform.spec.emulator.wire import CLOCK_ADVANCE, FAULTS, HOLD, RELEASE, REQUESTS, RESET

# Every pytest session where wanform is installed loads this module: asyncio, urllib and the
# emulator are imported only once a test asks for an emulator.
if TYPE_CHECKING:
    import asyncio

API_KEY = "sk-wanform-test-0123456789abcdef"
START_TIMEOUT_SECONDS = 30
ADMIN_TIMEOUT_SECONDS = 30
LOOPBACK_HOSTS = "127.0.0.1,localhost"
# Tasks finish within the official SDK's first one-second poll: `ImageSynthesis.call` returns soon.
DEFAULT_SPEED = 1000.0


class AdminError(RuntimeError):
    """The emulator's admin API answered with an error status."""


class AdminClient:
    """A small synchronous client for the emulator's `/__emulator/` admin API."""

    def __init__(self, root_url: str, timeout: float = ADMIN_TIMEOUT_SECONDS) -> None:
        self.root_url = root_url.rstrip("/")
        self.timeout = timeout

    def reset(self) -> None:
        """Forget every task, upload, rate window, request log entry and rendered image; keep only
        the configured fault rules.
        """
        self._call("POST", RESET)

    def advance(self, seconds: float) -> dict:
        """Move the emulator's virtual clock forward; returns the clock (`now`, `time`, `speed`)."""
        return self._call("POST", CLOCK_ADVANCE, {"seconds": seconds})

    def add_fault(self, rule: dict) -> dict:
        """Add a fault rule (a scenario file's format, see `wanform.emulator.state.faultbook`);
        returns it with its id.
        """
        return self._call("POST", FAULTS, rule)["faults"][0]

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._call("DELETE", FAULTS)

    def hold(self, model: str) -> None:
        """Keep the model's new tasks PENDING (to cancel them) until `release(model)` or reset."""
        self._call("POST", HOLD, {"model": model})

    def release(self, model: str) -> int:
        """Let the model's held tasks run; returns how many there were."""
        return self._call("POST", RELEASE, {"model": model})["released"]

    @contextlib.contextmanager
    def held(self, model: str) -> Iterator[None]:
        """`with admin.held(model):` holds its new tasks for the block, then releases them."""
        self.hold(model)
        try:
            yield
        finally:
            self.release(model)

    def requests(self) -> list[dict]:
        """The request log: every request the emulator has seen since the last reset (its admin
        API's aside), with its status and code."""
        return self._call("GET", REQUESTS)["entries"]

    def _call(self, method: str, route: str, body: Any = None) -> Any:
        import urllib.error
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.root_url + route, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _no_proxy().open(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise AdminError(
                f"{method} {route}: HTTP {exc.code}: {exc.read().decode(errors='replace')}"
            ) from exc
        return json.loads(payload) if payload else None


@functools.cache
def _no_proxy() -> Any:
    """An opener that asks no proxy: the emulator listens on loopback, and a proxy set in the
    environment must not be asked to reach it."""
    import urllib.request

    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


class EmulatorThread:
    """The emulator served by an event loop on a daemon thread."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.base_url = ""
        import asyncio

        self._runner: Any = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="wanform-emulator", daemon=True)

    def start(self) -> str:
        """Start serving; returns the base URL (`http://127.0.0.1:PORT/api/v1`)."""
        import asyncio

        from wanform.emulator import start

        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(start(self.config), self._loop)
        try:
            self._runner, self.base_url = future.result(START_TIMEOUT_SECONDS)
        except BaseException:
            self._halt()
            raise
        return self.base_url

    def stop(self) -> None:
        """Close the server, then the loop and its thread."""
        import asyncio

        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(
                START_TIMEOUT_SECONDS
            )
        self._halt()

    @property
    def root_url(self) -> str:
        """The server's address without the `/api/v1` suffix."""
        return self.base_url.removesuffix("/").removesuffix("/api/v1")

    def _halt(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT_SECONDS)

    def _serve(self) -> None:
        import asyncio

        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            _close(self._loop)


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on a stopped loop and close it, so nothing warns at interpreter exit."""
    import asyncio

    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


@dataclass(frozen=True)
class WanformEmulator:
    """What a test gets: where the emulator is, a key it accepts, and its admin client."""

    base_url: str
    api_key: str
    admin: AdminClient


@pytest.fixture(scope="session")
def wanform_emulator_config() -> Any:
    """The emulator's settings; override this fixture in a conftest.py to change them. Input
    URLs on loopback are fetched: a test may serve its images from 127.0.0.1."""
    from wanform.emulator import EmulatorConfig

    return EmulatorConfig(host="127.0.0.1", port=0, speed=DEFAULT_SPEED, loopback_inputs=True)


@pytest.fixture(scope="session")
def wanform_emulator_server(wanform_emulator_config: Any) -> Iterator[EmulatorThread]:
    """One emulator for the whole session."""
    server = EmulatorThread(wanform_emulator_config)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wanform_emulator(
    wanform_emulator_server: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> WanformEmulator:
    """A reset emulator; `DASHSCOPE_HTTP_BASE_URL` and `DASHSCOPE_API_KEY` point the SDK at it."""
    return use_emulator(wanform_emulator_server, monkeypatch)


def use_emulator(
    server: EmulatorThread, monkeypatch: pytest.MonkeyPatch, api_key: str = API_KEY
) -> WanformEmulator:
    """Reset `server`, and point the environment and the `dashscope` SDK at it for the test."""
    admin = AdminClient(server.root_url)
    admin.reset()
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", server.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", api_key)
    _bypass_proxies(monkeypatch)
    _point_sdk(monkeypatch, server.base_url, api_key)
    return WanformEmulator(base_url=server.base_url, api_key=api_key, admin=admin)


def _bypass_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy set in the environment is asked to reach loopback (requests honours no_proxy)."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, ",".join(filter(None, [os.environ.get(name, ""), LOOPBACK_HOSTS])))


def _point_sdk(monkeypatch: pytest.MonkeyPatch, base_url: str, api_key: str) -> None:
    """The SDK reads its environment once, at import: patch the attributes it reads per call."""
    if importlib.util.find_spec("dashscope") is None:
        return
    import dashscope

    monkeypatch.setattr(dashscope, "base_http_api_url", base_url)
    monkeypatch.setattr(dashscope, "api_key", api_key)
