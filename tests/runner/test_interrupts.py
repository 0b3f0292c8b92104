"""Ctrl-C (SIGINT) or SIGTERM at any moment of `wanform run` ends it in order with exit 130 or 143:
never a traceback, never "Aborted!", never death by signal; a rerun bills no task twice."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import signal
import sys
import termios
from pathlib import Path

import pytest
from runner_kit import KEY, SEEDS, Project

from wanform.emulator.http.context import EMULATOR
from wanform.runner.cli.run import RESUMABLE
from wanform.runner.exits import Exit

INTERRUPTED = f"interrupted; {RESUMABLE}"
# (signal, exit code, the line the process ends with when it stops outside the jobs)
SIGNALS = [
    pytest.param(signal.SIGINT, Exit.INTERRUPTED, INTERRUPTED, id="SIGINT"),
    pytest.param(
        signal.SIGTERM, Exit.TERMINATED, f"terminated (SIGTERM); {RESUMABLE}", id="SIGTERM"
    ),
]
# what the `wanform` console script runs
CONSOLE = "from wanform.runner.console import entry; entry()"
# `wanform run` whose lock update first waits for a writer to open the FIFO named by $HOLD_LOCK
HELD_LOCK = """
import os, sys
from wanform.runner.gitops import project
from wanform.runner.console import entry
record = project.Project.record
def held(*args, **kwargs):
    print("recording the lock", file=sys.stderr, flush=True)
    with open(os.environ["HOLD_LOCK"]) as fifo:
        fifo.read()
    return record(*args, **kwargs)
project.Project.record = held
entry()
"""

F_SETPIPE_SZ = 1031  # Linux: the smallest pipe, one page, fills after 4096 bytes


async def start(
    project: Project, stdout: int, *args: str, code: str | None = None, **env: str
) -> asyncio.subprocess.Process:
    """`wanform run` as a process in the project (or `code` run so), its stdout into `stdout`."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *(("-c", code) if code else ("-m", "wanform.runner.cli")),
        "run",
        *args,
        cwd=project.root,
        env={**os.environ, "DASHSCOPE_API_KEY": KEY, **env},
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )


async def until(condition, proc: asyncio.subprocess.Process) -> None:
    """Wait until `condition()` holds; fail if the run ends first."""
    while not condition():
        assert proc.returncode is None, (await proc.stderr.read()).decode()
        await asyncio.sleep(0.02)


async def interrupted(
    proc: asyncio.subprocess.Process,
    sig: signal.Signals = signal.SIGINT,
    code: Exit = Exit.INTERRUPTED,
) -> str:
    """Send `sig`, wait for the end, and check it is exit `code` with no traceback."""
    proc.send_signal(sig)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    text = err.decode()
    assert proc.returncode == code, text
    assert "Traceback" not in text and "Aborted" not in text
    return text


async def opened_to_read(fifo: Path, proc: asyncio.subprocess.Process) -> int:
    """Wait until the run is asleep reading `fifo`; return a write end, which keeps that read
    blocked until closed. Not before: a signal that comes between the open and the read runs its
    handler only once the read returns (Python runs handlers between bytecodes, and the read began
    after the signal), which with nothing written is never (4 runs in 100 under load)."""
    while True:
        try:  # without a reader, a non-blocking open for writing fails with ENXIO
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        assert proc.returncode is None, (await proc.stderr.read()).decode()
        await asyncio.sleep(0.02)
    while "pipe" not in Path(f"/proc/{proc.pid}/wchan").read_text():  # pipe_read, pipe_wait...
        assert proc.returncode is None, (await proc.stderr.read()).decode()
        await asyncio.sleep(0.01)
    return writer


async def said(proc: asyncio.subprocess.Process, marker: bytes) -> None:
    """Read the process's stderr up to the line `marker`; fail if it ends first."""
    while (line := await proc.stderr.readline()) != marker:
        assert line, "the process ended before saying " + marker.decode()


def handled(pid: int) -> bool:
    """Whether the process catches SIGTERM: wanform's handlers are installed (/proc's SigCgt)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        caught = next(line for line in status if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


@pytest.mark.parametrize(("sig", "code", "line"), SIGNALS)
async def test_a_signal_before_the_jobs(project, sig, code, line):
    """Stopped while reading the lock (a FIFO nobody writes), the run exits in one line, its run
    guard released in order."""
    project.recipe("foxes", SEEDS)
    fifo = project.root / "blocked.lock"
    os.mkfifo(fifo)
    proc = await start(project, asyncio.subprocess.DEVNULL, "foxes.yaml", "--lock", fifo.name)
    owner = project.root / ".wanform" / "run.owner"
    writer = await asyncio.wait_for(opened_to_read(fifo, proc), 20)  # into the read of the FIFO
    try:
        assert (await interrupted(proc, sig, code)).splitlines()[-1] == f"error: {line}"
    finally:
        os.close(writer)
    assert not owner.exists()


# the ladder takes six processes a signal: SIGTERM's in the default tier, SIGINT's in the slow one
LADDER = [
    pytest.param(signal.SIGINT, Exit.INTERRUPTED, id="SIGINT", marks=pytest.mark.slow),
    pytest.param(signal.SIGTERM, Exit.TERMINATED, id="SIGTERM"),
]


@pytest.mark.parametrize(("sig", "code"), LADDER)
async def test_a_signal_from_the_first_moment_then_a_rerun_bills_no_task_twice(
    project, emulators, sig, code
):
    """Sent as soon as wanform's handlers exist (before click is imported), then later and later
    (parsing, validation, start-up, jobs): every run ends with the signal's code and no traceback;
    a rerun then finishes every job with one billed task each."""
    emulator = await emulators(speed=5.0)
    project.recipe("foxes", SEEDS)
    args = ("foxes.yaml", "--target", emulator.base_url, "--emulator-speed", "5")
    for delay in (0.0, 0.05, 0.15, 0.3, 0.6, 1.2):
        proc = await start(project, asyncio.subprocess.DEVNULL, *args, code=CONSOLE)
        await asyncio.wait_for(until(lambda: handled(proc.pid), proc), 20)  # noqa: B023
        await asyncio.sleep(delay)
        await interrupted(proc, sig, code)
        assert not (project.root / ".wanform" / "run.owner").exists()
    rerun = await start(project, asyncio.subprocess.PIPE, *args, "-o", "json")
    out, err = await asyncio.wait_for(rerun.communicate(), 60)
    assert rerun.returncode == Exit.OK, err.decode()
    state = emulator.runner.app[EMULATOR]  # type: ignore[attr-defined]  # an AppRunner
    account = state.accounts.authenticate(f"Bearer {KEY}")
    billed = sorted(t.task_id for t in state.tasks.tasks(account) if t.canceled is None)
    assert billed == sorted(j["task_id"] for j in json.loads(out)["jobs"])


@pytest.mark.parametrize(("sig", "code", "line"), SIGNALS)
async def test_a_signal_while_the_lock_is_written_waits_for_it(project, emulators, sig, code, line):
    """A signal that comes as the lock is being written lets it be written, then ends the run."""
    emulator = await emulators(speed=200.0)
    project.recipe("foxes", SEEDS)
    fifo = project.root / "hold"
    os.mkfifo(fifo)
    proc = await start(
        project,
        asyncio.subprocess.PIPE,
        *("foxes.yaml", "--target", emulator.base_url, "--emulator-speed", "200"),
        code=HELD_LOCK,
        HOLD_LOCK=str(fifo),
    )
    await asyncio.wait_for(said(proc, b"recording the lock\n"), 30)
    proc.send_signal(sig)
    await asyncio.sleep(0.2)  # the handler has run
    os.close(os.open(fifo, os.O_WRONLY))  # the lock may be written now
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == code, err.decode()
    assert err.decode().splitlines()[-1] == f"error: {line}"
    lock = json.loads((project.root / "wanform.lock").read_text())
    assert len(lock["jobs"]) == 10


async def test_ctrl_c_twice_during_the_jobs(project, emulators):
    """A first Ctrl-C cancels PENDING tasks; a second, while those cancels hang, ends it at once."""
    # tasks PENDING for a minute (however late the signal comes), a cancel that takes 3 s to answer
    emulator = await emulators(speed=1.0, pending_seconds=60.0)
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
