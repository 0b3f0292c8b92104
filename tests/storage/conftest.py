"""Fixtures for `out: s3://...`: moto's S3 server on 127.0.0.1 (a real server over real sockets,
started once per test process), a fresh bucket per test, and a TCP proxy that can cut the line."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wanform.emulator.config import EmulatorConfig
from wanform.emulator.pytest_plugin import AdminClient, EmulatorThread

# --import-mode=importlib puts no test directory on sys.path; the helper module sits beside this.
sys.path.insert(0, str(Path(__file__).parent))


ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    for _ in range(400):
        if process.poll() is not None:
            raise RuntimeError(f"moto's server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.025)
    raise RuntimeError("moto's server did not start")


@dataclass(frozen=True)
class S3Server:
    """moto's server, enforcing credentials: its endpoint and a user's key pair."""

    endpoint: str
    access_key: str
    secret: str

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def client(self, service: str = "s3"):
        import boto3  # moto's own dependency

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret,
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server mode (`moto[server]`, the `test` extra) on a free port, checking every
    request's signature once its first three (which make the test user) have passed."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"},
    )
    try:
        wait_for_port(port, server)
        iam = S3Server(f"http://127.0.0.1:{port}", "unchecked", "unchecked").client("iam")
        iam.create_user(UserName="wanform")
        iam.put_user_policy(UserName="wanform", PolicyName="all", PolicyDocument=ALLOW_ALL)
        key = iam.create_access_key(UserName="wanform")["AccessKey"]
        yield S3Server(f"http://127.0.0.1:{port}", key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[str, AdminClient]]:
    """An emulator at 100x speed for a module's runs: its base URL and its admin client."""
    server = EmulatorThread(EmulatorConfig(host="127.0.0.1", port=0, speed=100))
    base_url = server.start()
    yield base_url, AdminClient(server.root_url)
    server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A new, empty bucket."""
    name = f"wanform-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


class Proxy:
    """A TCP proxy to `upstream` on a port of its own; `cut()` drops every connection, open and
    new, until `mend()`; with `stall_on` set, the first request holding those bytes is passed on
    only in part, then held (`stalled` is set) until the proxy closes."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.broken = threading.Event()
        self.stall_on: bytes | None = None
        self.stalled = threading.Event()
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.broken.set()
        with self.lock:
            for sock in self.open:
                _close(sock)
            self.open.clear()

    def mend(self) -> None:
        self.broken.clear()

    def close(self) -> None:
        self.cut()
        _close(self.listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.broken.is_set():
                _close(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                _close(client)
                continue
            with self.lock:
                self.open += [client, server]
            for a, b, up in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, up), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, up: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                if self.broken.is_set():
                    break
                if up and self.stall_on and self.stall_on in data and not self.stalled.is_set():
                    sink.sendall(data[: len(data) // 2])
                    self.stalled.set()
                    self.broken.wait()
                    break
                sink.sendall(data)
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[Proxy]:
    """A proxy between the runner and moto's server, to cut the line mid-run."""
    made = Proxy(s3_server.port)
    yield made
    made.close()
