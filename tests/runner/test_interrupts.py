"""Ctrl-C at any moment of `wanform run` ends it with exit 130 and one line: never a traceback,
never death by signal."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import signal
import sys
import termios
from pathlib import Path

from runner_kit import KEY, SEEDS, Project

from runner.cli.run import INTERRUPTED
from runner.exits import Exit

F_SETPIPE_SZ = 1031  # Linux: the smallest pipe, one page, fills after 4096 bytes


async def start(project: Project, stdout: int, *args: str) -> asyncio.subprocess.Process:
    """`wanform run` as a process in the project, its stdout into `stdout`."""
    env = {**os.environ, "DASHSCOPE_API_KEY": KEY}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runner.cli",
        "run",
        *args,
        cwd=project.root,
        env=env,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )


async def until(condition, proc: asyncio.subprocess.Process) -> None:
    """Wait until `condition()` holds; fail if the run ends first."""
    while not condition():
        assert proc.returncode is None, (await proc.stderr.read()).decode()
        await asyncio.sleep(0.02)


async def opened_to_read(fifo: Path, proc: asyncio.subprocess.Process) -> int:
    """Wait until the run opens `fifo` to read it; return a write end, which keeps its read
    blocked until closed."""
    while True:
        try:  # without a reader, a non-blocking open for writing fails with ENXIO
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        assert proc.returncode is None, (await proc.stderr.read()).decode()
        await asyncio.sleep(0.02)


async def interrupted(proc: asyncio.subprocess.Process) -> str:
    """Send SIGINT, wait for the end, and check it is exit 130 with the one-line message."""
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    text = err.decode()
    assert proc.returncode == Exit.INTERRUPTED, text
    assert "Traceback" not in text and "Aborted" not in text
    return text


async def test_ctrl_c_before_the_jobs(project):
    """Interrupted while reading the lock (a FIFO that stays empty), the run exits 130 in one
    line."""
    project.recipe("foxes", SEEDS)
    fifo = project.root / "blocked.lock"
    os.mkfifo(fifo)
    proc = await start(project, asyncio.subprocess.DEVNULL, "foxes.yaml", "--lock", fifo.name)
    writer = await asyncio.wait_for(opened_to_read(fifo, proc), 20)
    try:
        assert (await interrupted(proc)).splitlines()[-1] == f"error: {INTERRUPTED}"
    finally:
        os.close(writer)


async def test_ctrl_c_twice_during_the_jobs(project, emulators):
    """A first Ctrl-C cancels PENDING tasks; a second, while those cancels hang, ends it at once."""
    emulator = await emulators(speed=1.0)  # 30 s tasks, and a cancel that takes 3 s to answer
    cancel = await emulator.fault(action="latency", endpoint="cancel", seconds=3)
    project.recipe("foxes", SEEDS)
    proc = await start(
        project, asyncio.subprocess.DEVNULL, "foxes.yaml", "--target", emulator.base_url
    )
    journal = project.root / ".wanform" / "journal.jsonl"
    await asyncio.wait_for(
        until(lambda: journal.exists() and '"submitted"' in journal.read_text(), proc), 20
    )
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(emulator.fired(cancel), 20)  # a cancel is hanging
    assert (await interrupted(proc)).splitlines()[-1] == f"error: {INTERRUPTED}"


async def test_ctrl_c_after_the_jobs_while_the_summary_is_written(project, emulators):
    """Blocked writing the report into a full pipe, after the lock is written, Ctrl-C exits 130."""
    emulator = await emulators(speed=200.0)
    project.recipe("foxes", SEEDS)
    read, write = os.pipe()
    fcntl.fcntl(write, F_SETPIPE_SZ, 4096)
    try:
        proc = await start(
            project,
            write,
            *("foxes.yaml", "--target", emulator.base_url, "--emulator-speed", "200", "-o", "json"),
        )
        os.close(write)
        write = -1
        await asyncio.wait_for(until(lambda: _waiting(read) >= 4096, proc), 30)
        assert (Path(project.root) / "wanform.lock").is_file()
        assert (await interrupted(proc)).splitlines()[-1] == f"error: {INTERRUPTED}"
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)


def _waiting(fd: int) -> int:
    """Bytes waiting to be read in a pipe."""
    return int.from_bytes(
        fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder, signed=True
    )
