"""Slow and idle clients over raw sockets: the emulator closes what they leave open, serves the
others meanwhile, and `wanform emulator` stops at once on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator

import aiohttp
import pytest
from emulator_api import KEY, SYNC, emulator_command, wan27

from wanform.emulator import EmulatorConfig, start

SHORT = 0.3  # the timeouts under test, in real seconds
PATIENCE = 10.0  # how long a test waits for the emulator to close a connection
STOP_PATIENCE = 5.0  # how long `wanform emulator` may take to exit: well under a task's 30 s


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, int]]:
    """An emulator on a real socket with short connection timeouts; its host and port."""
    config = EmulatorConfig(port=0, speed=0, keepalive_seconds=SHORT, request_seconds=SHORT)
    runner, _ = await start(config)
    try:
        yield runner.addresses[0][:2]
    finally:
        await runner.cleanup()


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection within PATIENCE (reading what it sends first)."""
    try:
        async with asyncio.timeout(PATIENCE):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    return True


def head(path: str, length: int | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: emulator", f"Authorization: Bearer {KEY}"]
    if length is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_connection_that_sends_nothing_is_closed(server):
    """A client that connects and stays silent is cut off after `request_seconds`."""
    reader, writer = await asyncio.open_connection(*server)
    try:
        assert await closed(reader)
    finally:
        writer.close()


async def test_headers_dribbled_byte_by_byte_are_cut_off(server):
    """Slowloris: a request head that never completes does not keep its connection open."""
    reader, writer = await asyncio.open_connection(*server)
    dribble = head("/api/v1/tasks") * 1000

    async def send() -> None:
        for byte in dribble:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.02)

    sender = asyncio.create_task(send())
    try:
        assert await closed(reader)
    finally:
        sender.cancel()
        writer.close()


async def test_an_idle_connection_is_closed_after_its_answer(server):
    """A kept-alive connection that sends nothing more is closed after `keepalive_seconds`."""
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(head("/api/v1/tasks/unknown/cancel", 0))
        status = await reader.readline()
        assert status.startswith(b"HTTP/1.1 ")
        assert await closed(reader)
    finally:
        writer.close()


async def test_a_body_that_never_arrives_is_cut_off(server):
    """A client that sends a head and only part of its body is cut off, unanswered."""
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(head(SYNC, 1000) + b'{"model": ')
        assert await closed(reader)
    finally:
        writer.close()


async def test_slow_clients_do_not_hold_up_the_others(server):
    """While a hundred silent and dribbling connections are open, other requests are answered."""
    slow = [await asyncio.open_connection(*server) for _ in range(100)]
    for _, writer in slow[::2]:
        writer.write(head("/api/v1/tasks")[:10])
    host, port = server
    url = f"http://{host}:{port}/api/v1/tasks/unknown"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(20):
                async with session.get(url, headers={"Authorization": f"Bearer {KEY}"}) as answer:
                    assert (await answer.json())["output"]["task_status"] == "UNKNOWN"
    finally:
        for _, writer in slow:
            writer.close()


def test_wanform_emulator_exits_at_once_on_sigterm():
    """SIGTERM stops `wanform emulator` with exit code 0 while a sync call is still running and
    clients hold idle and half-sent connections: none of them is waited for."""
    command = emulator_command("--api-key", KEY)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert process.stdout is not None
    try:
        base = process.stdout.readline().strip()
        host, port = base.removeprefix("http://").removesuffix("/api/v1").rsplit(":", 1)
        asyncio.run(_busy_then_stop(process, host, int(port)))
        process.wait(timeout=STOP_PATIENCE)
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
    assert process.returncode == 0


async def _busy_then_stop(process: subprocess.Popen, host: str, port: int) -> None:
    """Open an idle, a half-sent and a busy connection (a 30 s sync call), then send SIGTERM."""
    body = json.dumps(wan27()).encode()
    connections = [await asyncio.open_connection(host, port) for _ in range(3)]
    (_, half), (busy, call) = connections[1:]
    try:
        half.write(head(SYNC)[:20])
        call.write(head(SYNC, len(body)) + body)
        await call.drain()
        await asyncio.sleep(0.5)  # the sync call is in progress: its task runs for 30 s
        process.send_signal(signal.SIGTERM)
        assert await closed(busy)  # answered or cut off, not left waiting
    finally:
        for _, writer in connections:
            writer.close()
