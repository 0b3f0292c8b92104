"""Emulator throughput over loopback sockets, against a bare aiohttp handler as the ceiling;
render time; or, with --tasks N, the emulator's memory after N tasks.

Run: python bench/emulator_bench.py [--requests 12000] [--pace 2000] [--rounds 5]
                                    [--creations 5000] [--concurrency 32] [--seconds 30]
                                    [--renders 15]
     python bench/emulator_bench.py --tasks 100000 [--concurrency 32] [--speed 100]
                                    [--image [--distinct-images]]
     python bench/emulator_bench.py --store 3000 [--input-store-mb 64] [--concurrency 32]
     python bench/emulator_bench.py --sigterm 5

Both servers (the emulator, and a bare aiohttp app answering a fixed JSON body) run at once, each
in a child process; the load comes from one concurrent aiohttp client in this process, so on a
2-core machine server and client each get a core. Both see the same request count, concurrency and
keep-alive connections. What is compared is the server's CPU time (utime + stime from /proc) per
request, for task queries. A server's CPU per request falls as its request rate rises (more
requests per wake-up and per system call), and an unpaced client sends each server as many as it
can take, so a server that answers faster, or a quieter moment on the machine, would earn a lower
figure: the queries are offered at one pace (`--pace` per second, each at its time; 0: unpaced)
that both servers keep up with, so both do the same work at the same rate. The machine's load
still drifts, so the queries come in `--rounds` rounds that alternate between the servers (bare,
emulator, bare, emulator, ...), each round a fresh measurement of `--requests` queries; the report
gives each server's median CPU per request, the bare handler's over the emulator's (the ratio of
medians: target 0.8x), the spread of the per-round ratio, and the requests per second each
reached (below the pace: the pace was not held). Queries cycle over tasks that stay as they are,
the emulator's clock frozen: half SUCCEEDED, half RUNNING. Task creations get one unpaced run
each.
The emulator runs with throttling off (`EmulatorConfig(throttle=False)`): the documented 20
queries/s per account would otherwise be all we measure. Rendering is timed in-process, without a
cache.

`--tasks N` measures memory instead: the emulator (throttle off, its clock `--speed` times real
time so the tasks finish in seconds, yet none reaches its 24 h expiry during the run) takes N async
submissions over the real HTTP API, lets them finish and answers queries on a sample of them; its
resident set (VmRSS) and peak (VmHWM) are then read from /proc/<pid>/status. The baseline is the
RSS after startup and a warm-up of a few tasks, so per-task bytes are (RSS after - baseline) / N.
With --image each task is an edit that sends a 62 KB JPEG inline, as the runner sends small inputs;
the emulator keeps each distinct input once, in a file, for as long as a task holds it, so the
input directory's size is reported too. With --distinct-images every task's JPEG has bytes of its
own (the same pixels, its index in a JPEG comment segment: no encoding per task), so each is a
file of its own. The target is the issue's: under 500 MB after 100,000 tasks, a few KB per task.

`--store N` measures the input store on disk: N tasks, each sending a JPEG of its own, on an
emulator without a cap, then on one capped at `--input-store-mb`; nothing is downloaded until
every task has ended (the worst case: every input still needed). It reports the input
directory's files and bytes, and the download statuses of the first and last tasks' results:
under the cap the oldest inputs went, so their results answer 404, never a wrong image.

`--sigterm N` times `wanform emulator` stopping: N times, a fresh process serving a 30 s sync
call, an idle connection and a half-sent request head gets SIGTERM; the wall time from the signal
to the process's exit is measured (target: under 2 s, exit code 0).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wanform.emulator.images import draw as render  # noqa: E402
from wanform.spec.models import MB  # noqa: E402

API_KEY = "sk-wanform-bench"
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
CREATE_PATH = "/services/aigc/image-generation/generation"
CREATE_BODY: dict[str, Any] = {
    "model": "wan2.7-image",
    "input": {"messages": [{"role": "user", "content": [{"text": "a red fox in the snow"}]}]},
    "parameters": {"n": 1, "size": "1K", "seed": 1},
}
UNCAPPED = 2**62  # an input store cap no run reaches
STOP_TIMEOUT = 120.0  # seconds a server may take to clean up: 100,000 input files to delete
QUERY_TASKS = 64  # tasks created before the query run; queries cycle over them
# a task query's CPU per request: the bare handler's over the emulator's
TARGET_RATIO = 0.8
FIXED_BODY = {
    "request_id": "00000000-0000-0000-0000-000000000000",
    "output": {"task_id": "00000000-0000-0000-0000-000000000000", "task_status": "RUNNING"},
}


@dataclass(frozen=True)
class Load:
    requests: int  # per query round
    concurrency: int
    seconds: float  # time budget per run: a run stops early rather than hang
    rounds: int  # query rounds per server, alternating between the two
    creations: int  # requests of the one creation run per server
    pace: float = 0.0  # requests per second offered, each at its time (0: as fast as answered)


@dataclass(frozen=True)
class Result:
    done: int
    failed: int
    elapsed: float
    server_cpu: float  # server CPU seconds / elapsed seconds

    @property
    def rate(self) -> float:
        return self.done / self.elapsed

    @property
    def cpu_per_request(self) -> float:
        """Server CPU seconds per request: unlike the rate, it holds when the client is the
        bottleneck or the machine is shared."""
        return self.server_cpu / self.rate


# ---------------------------------------------------------------- servers (child processes)


def bare_app() -> web.Application:
    """The ceiling: aiohttp answering a fixed JSON body, reading a POST's body like a handler."""
    payload = json.dumps(FIXED_BODY).encode()

    async def fixed(request: web.Request) -> web.Response:
        if request.can_read_body:
            await request.read()
        return web.Response(body=payload, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fixed)
    return app


Serving = tuple[web.AppRunner, str, str | None]  # the runner, base URL, input directory


async def _serve_bare() -> Serving:
    runner = web.AppRunner(bare_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/api/v1", None


async def _serve_emulator(speed: float, store_bytes: int) -> Serving:
    from wanform.emulator import EmulatorConfig, start
    from wanform.emulator.http.context import EMULATOR

    config = EmulatorConfig(
        host="127.0.0.1", port=0, throttle=False, speed=speed, input_store_bytes=store_bytes
    )
    runner, base_url = await start(config)
    return runner, base_url, str(runner.app[EMULATOR].inputs.directory)


def serve(kind: str, announce: multiprocessing.Queue, speed: float, store_bytes: int) -> None:
    """Child process: start one server, tell the parent its base URL (and the emulator's input
    directory), serve until SIGTERM, then clean up (the emulator deletes its input files)."""

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        runner, base_url, inputs = await (
            _serve_emulator(speed, store_bytes) if kind == "emulator" else _serve_bare()
        )
        announce.put((base_url, inputs))
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


@dataclass(frozen=True)
class Memory:
    """A process's resident set and its peak, in bytes (VmRSS and VmHWM of /proc/<pid>/status)."""

    rss: int
    peak: int


@dataclass(frozen=True)
class Disk:
    """The emulator's input directory: its files, their bytes, and the space they take."""

    files: int
    size: int  # the files' sizes, summed
    allocated: int  # the blocks they occupy
    filesystem: str  # its type: on tmpfs the files take RAM after all, if not the emulator's RSS


def filesystem(path: Path) -> str:
    """The type of the filesystem `path` is on (the longest mount point above it)."""
    mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    above = [(point, kind) for point, kind in mounts if path.is_relative_to(point)]
    return max(above, key=lambda mount: len(mount[0]))[1] if above else "unknown"


def disk_use(directory: Path) -> Disk:
    entries = [entry.stat() for entry in os.scandir(directory)]
    return Disk(
        len(entries),
        sum(stat.st_size for stat in entries),
        sum(stat.st_blocks * 512 for stat in entries),  # st_blocks counts 512-byte units
        filesystem(directory),
    )


class Server:
    """A server in a child process, with its CPU time and memory readable from /proc."""

    def __init__(self, kind: str, speed: float = 1.0, store_bytes: int = UNCAPPED) -> None:
        context = multiprocessing.get_context("spawn")
        self._announce = context.Queue()
        self._process = context.Process(
            target=serve, args=(kind, self._announce, speed, store_bytes), daemon=True
        )
        self.inputs: Path | None = None  # the emulator's input directory

    def __enter__(self) -> str:
        self._process.start()
        base_url, inputs = self._announce.get(timeout=60)
        self.inputs = Path(inputs) if inputs else None
        return base_url

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(STOP_TIMEOUT)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def memory(self) -> Memory:
        status = Path(f"/proc/{self._process.pid}/status").read_text().splitlines()
        kilobytes = {
            k: int(v.split()[0])
            for k, _, v in (line.partition(":") for line in status)
            if k in ("VmRSS", "VmHWM")
        }
        return Memory(kilobytes["VmRSS"] * 1024, kilobytes["VmHWM"] * 1024)


# ---------------------------------------------------------------- client


async def drive(
    load: Load,
    request: Callable[[aiohttp.ClientSession, int], Awaitable[bool]],
    session: aiohttp.ClientSession,
    cpu: Callable[[], float],
) -> Result:
    """`load.requests` calls of `request` from `load.concurrency` workers, within `load.seconds`;
    with a pace, call i waits for its time, i / pace seconds after the start."""
    counter = iter(range(load.requests))
    outcomes: list[bool] = []
    cpu_before = cpu()
    start = time.perf_counter()
    deadline = start + load.seconds

    async def worker() -> None:
        for i in counter:
            now = time.perf_counter()
            if now > deadline:
                return
            if load.pace and start + i / load.pace > now:
                await asyncio.sleep(start + i / load.pace - now)
            outcomes.append(await request(session, i))

    await asyncio.gather(*(worker() for _ in range(load.concurrency)))
    elapsed = time.perf_counter() - start
    return Result(sum(outcomes), outcomes.count(False), elapsed, (cpu() - cpu_before) / elapsed)


async def create(
    session: aiohttp.ClientSession, base_url: str, body: dict = CREATE_BODY
) -> tuple[bool, dict]:
    headers = {**HEADERS, "X-DashScope-Async": "enable"}
    async with session.post(base_url + CREATE_PATH, json=body, headers=headers) as response:
        payload = await response.json(content_type=None)
        return response.status == 200, payload


async def query_tasks(session: aiohttp.ClientSession, base_url: str) -> list[str]:
    """QUERY_TASKS tasks that stay as they are on a frozen clock: half SUCCEEDED, half RUNNING
    (for the bare handler, its fixed ids: it answers the clock's advance like any request)."""
    advance = base_url.removesuffix("/api/v1") + "/__emulator/clock/advance"
    ids = []
    for seconds in (60, 1):  # past the end of a 30 s task, then past its 0.05 s pending wait
        for _ in range(QUERY_TASKS // 2):
            ids.append((await create(session, base_url))[1].get("output", {}).get("task_id", "x"))
        async with session.post(advance, json={"seconds": seconds}) as response:
            await response.read()
    return ids


@dataclass(frozen=True)
class Http:
    """What one server measured: a result per query round, and one creation run."""

    queries: list[Result]
    creations: Result

    def median(self, value: Callable[[Result], float]) -> float:
        return statistics.median(value(run) for run in self.queries)


class Target:
    """One server under load: its base URL, a session of `concurrency` keep-alive connections,
    and the tasks its queries cycle over."""

    def __init__(self, server: Server, base_url: str, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.base_url = base_url
        self.session = session
        self.ids: list[str] = []

    async def query(self, session: aiohttp.ClientSession, i: int) -> bool:
        url = f"{self.base_url}/tasks/{self.ids[i % len(self.ids)]}"
        async with session.get(url, headers=HEADERS) as response:
            await response.read()
            return response.status == 200

    async def submit(self, session: aiohttp.ClientSession, i: int) -> bool:
        return (await create(session, self.base_url))[0]

    async def run(self, load: Load, request: Callable[..., Awaitable[bool]]) -> Result:
        return await drive(load, request, self.session, self.server.cpu_seconds)


async def measure(load: Load) -> dict[str, Http]:
    """Both servers at once, each in its own process: `load.rounds` query rounds alternating
    between them (bare, emulator, bare, ...), each a fresh measurement, so a change in the
    machine's load hits both alike; then one creation run each."""
    servers = {kind: Server(kind, speed=0.0) for kind in ("bare", "emulator")}
    async with contextlib.AsyncExitStack() as stack:
        targets = {
            kind: Target(
                server,
                stack.enter_context(server),
                await stack.enter_async_context(
                    aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=load.concurrency))
                ),
            )
            for kind, server in servers.items()
        }
        warm_up = Load(min(500, load.requests), load.concurrency, load.seconds, 1, 0)
        for target in targets.values():
            target.ids = await query_tasks(target.session, target.base_url)
            await target.run(warm_up, target.query)
        rounds: dict[str, list[Result]] = {kind: [] for kind in targets}
        for _ in range(load.rounds):
            for kind, target in targets.items():
                rounds[kind].append(await target.run(load, target.query))
        creations = Load(load.creations, load.concurrency, load.seconds, 1, 0)
        measured = {
            kind: Http(rounds[kind], await target.run(creations, target.submit))
            for kind, target in targets.items()
        }
    return measured


# ---------------------------------------------------------------- memory after many tasks

WARMUP_TASKS = 200  # created before the baseline is read, so it includes warmed-up code paths
SAMPLE_QUERIES = 1000  # finished tasks queried after the run
TARGET_TASKS = 100_000
TARGET_RSS = 500 * MB
FINISH_TIMEOUT = 120.0  # real seconds to wait for the last task to end


@dataclass(frozen=True)
class TaskLoad:
    """What `--tasks` measured: creations, sampled statuses, and the emulator's memory."""

    tasks: int
    image: int  # bytes of the input image each task sends (0: text only)
    distinct: bool  # each task's image has bytes of its own
    failed: int
    elapsed: float  # seconds from the first creation to the last task's end
    statuses: Counter[str]  # of the sampled queries, after every task ended
    baseline: Memory
    after: Memory
    disk: Disk  # the input directory after the run

    @property
    def per_task(self) -> float:
        return (self.after.rss - self.baseline.rss) / self.tasks


def input_jpeg() -> bytes:
    """The input image of `--image` tasks: a photo-like 1024x768 JPEG."""
    buffer = io.BytesIO()
    sample_input(1024, 768, False).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def distinct_jpeg(jpeg: bytes, i: int) -> bytes:
    """`jpeg` with bytes of its own: a comment segment (COM) naming task `i` after the SOI marker.
    The pixels are the same; the bytes, and so the digest the emulator files it under, differ."""
    comment = f"wanform bench task {i}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def seeded_body(i: int, image: bytes | None, distinct: bool = False) -> dict:
    """CREATE_BODY with its own seed (each task a different request, as in real use) and, when
    given, an input image as a data URI (an edit, as the runner sends images under 10 MB); with
    `distinct`, made unique to the task."""
    body = {**CREATE_BODY, "parameters": {**CREATE_BODY["parameters"], "seed": i}}
    if image is not None:
        sent = distinct_jpeg(image, i) if distinct else image
        uri = "data:image/jpeg;base64," + base64.b64encode(sent).decode()
        content = [*CREATE_BODY["input"]["messages"][0]["content"], {"image": uri}]
        body["input"] = {"messages": [{"role": "user", "content": content}]}
    return body


async def create_many(
    session: aiohttp.ClientSession,
    base_url: str,
    count: int,
    concurrency: int,
    image: bytes | None,
    distinct: bool = False,
    first: int = 0,
) -> tuple[list[str], int]:
    """`count` async submissions from `concurrency` workers; the task ids, and how many failed."""
    counter = iter(range(first, first + count))
    ids: list[str] = []
    failures = [0]

    async def worker() -> None:
        for i in counter:
            ok, payload = await create(session, base_url, seeded_body(i, image, distinct))
            if ok:
                ids.append(payload["output"]["task_id"])
            else:
                failures[0] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ids, failures[0]


async def task_status(session: aiohttp.ClientSession, base_url: str, task_id: str) -> str:
    async with session.get(f"{base_url}/tasks/{task_id}", headers=HEADERS) as response:
        payload = await response.json(content_type=None)
        return payload.get("output", {}).get("task_status", f"HTTP {response.status}")


async def finish(session: aiohttp.ClientSession, base_url: str, last_id: str) -> None:
    """Wait for the last task created to end; in one uncapped lane, every other ended before."""
    deadline = time.perf_counter() + FINISH_TIMEOUT
    while await task_status(session, base_url, last_id) not in ("SUCCEEDED", "FAILED"):
        if time.perf_counter() > deadline:
            raise SystemExit(f"task {last_id} did not end within {FINISH_TIMEOUT:.0f} s")
        await asyncio.sleep(0.2)


async def sample_statuses(
    session: aiohttp.ClientSession, base_url: str, ids: list[str], concurrency: int
) -> Counter[str]:
    chosen = iter(random.Random(0).sample(ids, min(SAMPLE_QUERIES, len(ids))))
    statuses: Counter[str] = Counter()

    async def worker() -> None:
        for task_id in chosen:
            statuses[await task_status(session, base_url, task_id)] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


async def measure_tasks(
    count: int, concurrency: int, speed: float, image: bytes | None, distinct: bool
) -> TaskLoad:
    """Create `count` tasks on a fresh emulator, let them end, query a sample; read its memory."""
    server = Server("emulator", speed)
    with server as base_url:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            warm, _ = await create_many(
                session, base_url, WARMUP_TASKS, concurrency, image, distinct
            )
            await finish(session, base_url, warm[-1])
            await sample_statuses(session, base_url, warm, concurrency)
            baseline = server.memory()
            start = time.perf_counter()
            # numbered after the warm-up's: distinct images stay distinct from theirs
            ids, failed = await create_many(
                session, base_url, count, concurrency, image, distinct, WARMUP_TASKS
            )
            await finish(session, base_url, ids[-1])
            elapsed = time.perf_counter() - start
            statuses = await sample_statuses(session, base_url, ids, concurrency)
            after = server.memory()
            assert server.inputs is not None
            disk = disk_use(server.inputs)
    return TaskLoad(
        count, len(image or b""), distinct, failed, elapsed, statuses, baseline, after, disk
    )


# ---------------------------------------------------------------- input store on disk

STORE_SAMPLE = 20  # results downloaded at each end of a `--store` run


@dataclass(frozen=True)
class StoreLoad:
    """What one `--store` run measured: the input directory, and downloads at both ends."""

    cap: int | None  # bytes; None: no cap
    failed: int
    disk: Disk
    oldest: Counter[int]  # download statuses of the first tasks' first results
    newest: Counter[int]  # ... and of the last tasks'


def first_image(body: dict) -> str:
    """The first result URL of a finished wan2.7 task."""
    content = body["output"]["choices"][0]["message"]["content"]
    return next(item["image"] for item in content if "image" in item)


async def download_status(session: aiohttp.ClientSession, base_url: str, task_id: str) -> int:
    async with session.get(f"{base_url}/tasks/{task_id}", headers=HEADERS) as response:
        body = await response.json(content_type=None)
    async with session.get(first_image(body)) as response:
        await response.read()
        return response.status


async def measure_store(count: int, concurrency: int, speed: float, cap: int | None) -> StoreLoad:
    """`count` tasks with distinct inputs on a fresh emulator; its input directory once all
    ended, then the results of the first and last STORE_SAMPLE tasks."""
    server = Server("emulator", speed, cap or UNCAPPED)
    with server as base_url:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            ids, failed = await create_many(
                session, base_url, count, concurrency, input_jpeg(), distinct=True
            )
            await finish(session, base_url, ids[-1])
            assert server.inputs is not None
            disk = disk_use(server.inputs)
            oldest = Counter(
                [await download_status(session, base_url, i) for i in ids[:STORE_SAMPLE]]
            )
            newest = Counter(
                [await download_status(session, base_url, i) for i in ids[-STORE_SAMPLE:]]
            )
    return StoreLoad(cap, failed, disk, oldest, newest)


def report_store(loads: list[StoreLoad], count: int, concurrency: int, speed: float) -> None:
    print(
        f"input store: {count:,} async tasks over loopback HTTP (one aiohttp client, concurrency "
        f"{concurrency}), each sending a {len(input_jpeg()) / 1024:.0f} KB JPEG of its own as a "
        f"data URI; emulator in its own process, throttle off, clock x{speed:g}; nothing "
        "downloaded until every task ended (every input still needed), then the input directory "
        f"read with os.scandir (sizes, and st_blocks for the space taken), then the first result "
        f"of the first and last {STORE_SAMPLE} tasks downloaded"
    )
    for load in loads:
        label = "no cap" if load.cap is None else f"cap {load.cap / MB:g} MB"
        verdict = (
            ""
            if load.cap is None
            else f"  [target: under the cap: {'met' if load.disk.size <= load.cap else 'NOT met'}]"
        )
        print(
            f"  {label:>12}: {load.disk.files:,} files, {load.disk.size / MB:.1f} MB "
            f"({load.disk.allocated / MB:.1f} MB allocated, {load.disk.filesystem}); "
            f"{load.failed} creations failed; downloads of the first tasks' results "
            f"{dict(load.oldest)}, of the last tasks' {dict(load.newest)}{verdict}"
        )


# ---------------------------------------------------------------- stopping on SIGTERM

STOP_TARGET = 2.0  # seconds from SIGTERM to exit


async def stop_seconds() -> tuple[float, int]:
    """One `wanform emulator` stopped while busy: seconds from SIGTERM to exit, its exit code."""
    command = [
        sys.executable,
        "-m",
        "wanform.runner.cli",
        "emulator",
        "--port",
        "0",
        "--api-key",
        API_KEY,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    host, port = base_url.removeprefix("http://").removesuffix("/api/v1").rsplit(":", 1)
    body = json.dumps(CREATE_BODY).encode()
    head = (
        f"POST /api/v1/services/aigc/multimodal-generation/generation HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(3)]
    connections[1][1].write(head[:20])
    connections[2][1].write(head + body)
    await asyncio.sleep(0.5)  # the sync call waits for its 30 s task
    start = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, STOP_TIMEOUT)
    elapsed = time.perf_counter() - start
    for _, writer in connections:
        writer.close()
    process.stdout.close()
    return elapsed, code


def report_stop(runs: list[tuple[float, int]]) -> None:
    times = [elapsed for elapsed, _ in runs]
    median = statistics.median(times)
    print(
        f"stop: `wanform emulator` with a 30 s sync call in progress, an idle connection and a "
        f"half-sent request head, then SIGTERM; wall time from the signal to exit, {len(runs)} "
        f"runs: median {median:.2f} s, max {max(times):.2f} s, exit codes "
        f"{sorted({code for _, code in runs})}  [target < {STOP_TARGET:g} s: "
        f"{'met' if max(times) < STOP_TARGET else 'NOT met'}]"
    )


# ---------------------------------------------------------------- rendering


def sample_input(width: int, height: int, noise: bool) -> Image.Image:
    """A photo-like input (shapes on a gradient) or, for the worst case, incompressible noise."""
    if noise:
        return Image.frombytes(
            "RGB", (width, height), random.Random(1).randbytes(width * height * 3)
        )
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    rng = random.Random(2)
    for _ in range(40):
        x = rng.randrange(width)
        y = rng.randrange(height)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x, y, x + rng.randrange(40, 400), y + rng.randrange(40, 400)), fill=colour)
    return image


def time_render(runs: int, bases: list[Image.Image]) -> list[float]:
    """Seconds per 2048x2048 render of `bases` side by side (no cache: every run draws)."""
    palette = [("#C2D1E6", 40.0), ("#1F2A44", 35.0), ("#F2B880", 25.0)]
    times = []
    for i in range(runs):
        start = time.perf_counter()
        png = render.draw_png(
            2048,
            2048,
            42,
            "Spray the graffiti from image 2 onto the car in image 1. " * 4,
            [render.Input(base, [[100, 120, 900, 700]]) for base in bases],
            palette,
            i,
        )
        times.append(time.perf_counter() - start)
    assert Image.open(io.BytesIO(png)).size == (2048, 2048)
    return times


# ---------------------------------------------------------------- report


def report_http(load: Load, emulator: Http, bare: Http) -> None:
    print(
        f"HTTP: loopback, one aiohttp client process (concurrency {load.concurrency}, keep-alive), "
        "both servers in processes of their own, clocks frozen; server CPU (utime + stime from "
        "/proc/<pid>/stat) per request;"
        f"\n  queries: {load.rounds} rounds alternating bare, emulator, ... of {load.requests:,} "
        f"requests (or {load.seconds:.0f} s) each, "
        f"{f'offered at {load.pace:,.0f}/s' if load.pace else 'unpaced'}, cycling over "
        f"{QUERY_TASKS} tasks (half SUCCEEDED, half RUNNING); medians of the rounds, the ratio's "
        "spread over the rounds"
    )
    rate = emulator.median(lambda r: r.rate) / bare.median(lambda r: r.rate)
    emu_cpu = emulator.median(lambda r: r.cpu_per_request)
    bare_cpu = bare.median(lambda r: r.cpu_per_request)
    ratios = [
        b.cpu_per_request / e.cpu_per_request
        for b, e in zip(bare.queries, emulator.queries, strict=True)
    ]
    failed = sum(r.failed for r in emulator.queries)
    print(
        f"  task query  GET tasks/{{id}}: emulator {emulator.median(lambda r: r.rate):7,.0f} req/s "
        f"({failed} failed), {emu_cpu * 1e6:,.0f} us/req | bare aiohttp "
        f"{bare.median(lambda r: r.rate):7,.0f} req/s, {bare_cpu * 1e6:,.0f} us/req"
    )
    print(f"    ratio to bare aiohttp, req/s: {rate:.2f}x")
    verdict = "met" if bare_cpu / emu_cpu >= TARGET_RATIO else "NOT met"
    print(
        f"    ratio to bare aiohttp, CPU per request: {bare_cpu / emu_cpu:.2f}x (per round "
        f"{min(ratios):.2f}x to {max(ratios):.2f}x: {' '.join(f'{r:.2f}' for r in ratios)})"
        f"  [target >= {TARGET_RATIO:.1f}x: {verdict}]"
    )
    emu = emulator.creations
    ceiling = bare.creations
    print(
        f"  task create POST async, one run of {load.creations:,}: emulator {emu.rate:7,.0f} req/s "
        f"({emu.failed} failed), {emu.cpu_per_request * 1e6:,.0f} us/req | bare aiohttp "
        f"{ceiling.rate:7,.0f} req/s, {ceiling.cpu_per_request * 1e6:,.0f} us/req"
    )
    print(
        f"    ratio to bare aiohttp: req/s {emu.rate / ceiling.rate:.2f}x, CPU per request "
        f"{ceiling.cpu_per_request / emu.cpu_per_request:.2f}x"
    )


def report_render(runs: int) -> None:
    print(f"render 2048x2048 PNG (median of {runs}, no cache):")
    photo = sample_input(1536, 1024, False)
    noise = sample_input(1536, 1024, True)
    for label, bases in (
        ("no input (gradient)", []),
        ("photo-like 1536x1024 input", [photo]),
        ("noise 1536x1024 input (worst case)", [noise]),
        ("three inputs side by side", [photo, noise, photo]),
    ):
        times = time_render(runs, bases)
        median = statistics.median(times)
        print(
            f"  {label:36} median {median * 1000:6.1f} ms, min {min(times) * 1000:6.1f}, "
            f"max {max(times) * 1000:6.1f}"
            f"  [target < 150 ms: {'met' if median < 0.150 else 'NOT met'}]"
        )


def report_tasks(load: TaskLoad, concurrency: int, speed: float) -> None:
    projected = load.baseline.rss + load.per_task * TARGET_TASKS
    measured_at_target = load.tasks >= TARGET_TASKS
    at_target = load.after.rss if measured_at_target else projected
    verdict = "met" if at_target < TARGET_RSS else "NOT met"
    print(
        f"memory: {load.tasks:,} async tasks created over loopback HTTP (one aiohttp client, "
        f"concurrency {concurrency}); emulator in its own process, throttle off, clock x{speed:g} "
        "(no task reaches its 24 h expiry); RSS from /proc/<pid>/status after the run"
    )
    if load.image:
        which = (
            "a JPEG of its own (the same pixels, its index in a comment)"
            if load.distinct
            else "the same JPEG"
        )
        print(
            f"  each task also sends an input image as a data URI: {which}, "
            f"{load.image / 1024:.0f} KB"
        )
    print(
        f"  created {load.tasks - load.failed:,} ok, {load.failed:,} failed; all ended after "
        f"{load.elapsed:.1f} s ({load.tasks / load.elapsed:,.0f} tasks/s); "
        f"sampled {sum(load.statuses.values())} queries: {dict(load.statuses)}"
    )
    print(
        f"  emulator RSS: baseline {load.baseline.rss / MB:.1f} MB (after startup and "
        f"{WARMUP_TASKS} warm-up tasks), after {load.after.rss / MB:.1f} MB, "
        f"peak (VmHWM) {load.after.peak / MB:.1f} MB"
    )
    print(
        f"  per task: (RSS after - baseline) / {load.tasks:,} = {load.per_task:,.0f} bytes; "
        f"{'RSS' if measured_at_target else 'projected RSS'} at {TARGET_TASKS:,} tasks "
        f"{at_target / MB:.1f} MB  [target: < 500 MB after 100,000 tasks: {verdict}]"
    )
    total = WARMUP_TASKS + load.tasks
    print(
        f"  input directory ({load.disk.filesystem}, not in the RSS): {load.disk.files:,} files, "
        f"{load.disk.size / MB:.1f} MB ({load.disk.allocated / MB:.1f} MB allocated); "
        f"{load.disk.allocated / total:,.0f} bytes allocated per task "
        f"(over all {total:,} tasks, warm-up included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=12000, help="per query round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget of a run")
    parser.add_argument("--rounds", type=int, default=5, help="query rounds per server")
    parser.add_argument("--creations", type=int, default=5000, help="requests of a creation run")
    parser.add_argument(
        "--pace", type=float, default=2000.0, help="queries per second offered (0: no pace)"
    )
    parser.add_argument("--renders", type=int, default=15)
    parser.add_argument("--tasks", type=int, help="measure memory after this many tasks instead")
    parser.add_argument(
        "--store", type=int, help="measure the input store on disk after this many tasks instead"
    )
    parser.add_argument("--sigterm", type=int, help="time this many stops on SIGTERM instead")
    parser.add_argument(
        "--input-store-mb", type=int, default=64, help="--store: the cap of the capped run"
    )
    parser.add_argument("--speed", type=float, default=100.0, help="the clock's speed for --tasks")
    parser.add_argument("--image", action="store_true", help="--tasks: each task sends an image")
    parser.add_argument(
        "--distinct-images",
        action="store_true",
        help="--image: each task's image has bytes of its own (one input file per task)",
    )
    args = parser.parse_args()
    if args.distinct_images and not args.image:
        parser.error("--distinct-images needs --image")
    if args.sigterm:
        report_stop([asyncio.run(stop_seconds()) for _ in range(args.sigterm)])
        return
    if args.store:
        loads = [
            asyncio.run(measure_store(args.store, args.concurrency, args.speed, cap))
            for cap in (None, args.input_store_mb * MB)
        ]
        report_store(loads, args.store, args.concurrency, args.speed)
        return
    if args.tasks:
        print(f"python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}")
        image = input_jpeg() if args.image else None
        memory = asyncio.run(
            measure_tasks(args.tasks, args.concurrency, args.speed, image, args.distinct_images)
        )
        report_tasks(memory, args.concurrency, args.speed)
        return
    load = Load(
        args.requests, args.concurrency, args.seconds, args.rounds, args.creations, args.pace
    )
    print(f"python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, {os.cpu_count()} cores")
    measured = asyncio.run(measure(load))
    report_http(load, measured["emulator"], measured["bare"])
    report_render(args.renders)


if __name__ == "__main__":
    main()
