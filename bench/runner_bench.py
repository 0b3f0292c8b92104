"""The runner against the emulator with stated limits, next to the lower bound they allow, then
the official SDK.

Run: python bench/runner_bench.py [--jobs 500] [--rps 20] [--in-flight 20] [--qps 20]
    [--seconds 1] [--skip-sdk]

The emulator runs in its own process, with wan2.7-image set to RPS submissions/s, IN_FLIGHT tasks
at once and SECONDS per task (plus its 0.05 s PENDING), and QPS task queries/s per account
(DashScope's is 20). The runner is given the same model table and query rate, so its limits are the
stated ones. Every job is its own recipe with the same body (the emulator renders the image once
and caches it), so the bench measures scheduling, not drawing.

The runner's memory at scale (target: under 150 MB at 20,000 jobs), every limit raised so the run
takes about a minute:

    python bench/runner_bench.py --jobs 20000 --skip-sdk --rps 500 --in-flight 500 --qps 500 \\
        --seconds 0.1

Lower bound: the last job cannot finish before max(JOBS/RPS, ceil(JOBS/IN_FLIGHT) * task, JOBS/QPS
queries) plus one task duration for the last batch to run. Requests per job and 429s come from the
emulator's request log (per API key, so each client is counted apart). The runner's wall time is
the engine's (`RunResult.elapsed`: first submission to last image). Peak RSS is the bench
process's high-water mark taken right after the runner's part (writing the recipes, then
`wanform.Project.run`: validating, planning, the run, the lock), before the SDK's; the emulator's
process is not counted. CPU time per job is this process's (user and system, every thread) over
each client's part alone, so it is the figure least moved by other load on the machine; the
runner's includes validating, planning and writing the lock, which the SDK does not do. Each
client's modules are imported before its clock starts (about 0.3 s of CPU each, once a process,
not per job). The SDK
part drives `ImageGeneration.async_call` + `wait` from a thread pool as wide as IN_FLIGHT,
retrying a 429 after a second, and downloads with requests.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import multiprocessing
import resource
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import wanform  # noqa: E402
from wanform.spec.emulator.wire import REQUESTS  # noqa: E402
from wanform.spec.models import MODELS, TASK_QUERY_RPS  # noqa: E402
from wanform.spec.schemagen import validator_module  # noqa: E402

MODEL = "wan2.7-image"
# the modules `Project.run` imports on its way (where no bytecode is cached, as with
# PYTHONDONTWRITEBYTECODE, the generated validators alone take 0.13 s of CPU to compile)
RUN_MODULES = (
    "wanform.runner.app.running",
    "wanform.runner.app.project",
    "wanform.runner.reports.events",
    f"wanform.spec.validators.{validator_module('recipe')}",
    f"wanform.spec.validators.{validator_module('request-' + MODEL)}",
)
PENDING_SECONDS = 0.05  # the emulator's default wait before a task runs
RUNNER_KEY = "sk-bench-runner"
SDK_KEY = "sk-bench-sdk"
STOP_TIMEOUT = 60.0  # seconds the emulator may take to clean up after SIGTERM
TARGET_RSS_MB = 150  # the bound for the runner's part at 20,000 jobs
RECIPE = """model: wan2.7-image
name: {name}
prompt: A red fox in fresh snow, morning light.
size: 1K
n: 1
seed: 7
"""


def bench_models(rps: float, in_flight: int, seconds: float):
    return {
        **MODELS,
        MODEL: replace(
            MODELS[MODEL], submit_rps=rps, max_in_flight=in_flight, typical_seconds=seconds
        ),
    }


def serve(
    rps: float, in_flight: int, qps: float, seconds: float, urls: multiprocessing.Queue
) -> None:
    """The emulator's process: serve until SIGTERM, then clean up (its input files go)."""
    from wanform.emulator import EmulatorConfig, start

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        runner, base_url = await start(
            EmulatorConfig(port=0, models=bench_models(rps, in_flight, seconds), query_rps=qps)
        )
        urls.put(base_url)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


def request_log(base_url: str, key: str) -> list[dict]:
    request = urllib.request.Request(
        base_url.removesuffix("/api/v1") + REQUESTS,
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.load(resp)["entries"]


def traffic(base_url: str, key: str, jobs: int) -> str:
    entries = request_log(base_url, key)
    throttled = sum(1 for e in entries if e["status"] == 429)
    per_job = len(entries) / jobs
    return f"{per_job:.2f} requests per job ({len(entries)} in all), {throttled} answered 429"


def run_runner(base_url: str, root: Path, args) -> tuple[float, float, float]:
    """The runner's run through `wanform.Project`, as `wanform run` makes it. Returns the engine's
    wall time (first submission's start to last image), the whole call's CPU time (validating,
    planning and writing the lock too), and the engine's: from its first progress event to the
    last job's end, read by a callback at those two events only (reading a process's CPU time
    costs tens of microseconds while its threads run: once an event, it would weigh on the
    figure it measures)."""
    recipes = root / "recipes"
    recipes.mkdir()
    for i in range(args.jobs):
        (recipes / f"job-{i:04d}.yaml").write_text(
            RECIPE.format(name=f"job-{i:04d}"), encoding="utf-8"
        )
    models = bench_models(args.rps, args.in_flight, args.seconds)
    project = wanform.Project(root, models=models, env={"DASHSCOPE_API_KEY": RUNNER_KEY})
    settings = wanform.RunSettings(target=base_url, emulator_speed=1.0, query_rps=str(args.qps))
    first: float | None = None  # CPU time at the engine's first event
    last = 0.0  # and at the last job's end (every job succeeds, or the bench fails)
    ended = 0

    def seen(event: dict) -> None:
        nonlocal first, last, ended
        if first is None:
            first = time.process_time()
        ended += event["event"] == "succeeded"
        if ended == args.jobs and not last:
            last = time.process_time()

    for name in RUN_MODULES:  # before the clock, as the SDK's are
        importlib.import_module(name)
    cpu = time.process_time()
    outcome = project.run(settings=settings, progress=seen)
    cpu = time.process_time() - cpu
    assert outcome.exit_code == 0 and len(outcome.result.jobs) == args.jobs, outcome.result
    assert first is not None, "the run sent no event"
    return outcome.result.elapsed, cpu, last - first


def sdk_job(base_url: str, out: Path, index: int) -> None:
    from dashscope.aigc.image_generation import ImageGeneration
    from dashscope.api_entities.dashscope_response import Message

    messages = [Message(role="user", content=[{"text": "A red fox in fresh snow, morning light."}])]
    while True:
        task = ImageGeneration.async_call(
            model=MODEL, messages=messages, api_key=SDK_KEY, n=1, size="1K", seed=7
        )
        if task.status_code != 429:
            break
        time.sleep(1)
    while True:
        done = ImageGeneration.wait(task, api_key=SDK_KEY)
        if done.status_code != 429:
            break
        time.sleep(1)
    url = done.output.choices[0].message.content[0]["image"]
    with urllib.request.urlopen(url, timeout=60) as resp:
        (out / f"sdk-{index:04d}.png").write_bytes(resp.read())


def run_sdk(base_url: str, root: Path, args) -> float:
    import dashscope

    dashscope.base_http_api_url = base_url
    out = root / "sdk"
    out.mkdir()
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(args.in_flight) as pool:
        list(pool.map(lambda i: sdk_job(base_url, out, i), range(args.jobs)))
    return time.perf_counter() - started, time.process_time() - cpu


def per_job_ms(cpu: float, jobs: int) -> float:
    return cpu / jobs * 1000


def peak_rss_mb() -> float:
    """This process's high-water resident set so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lower_bound(args) -> float:
    task = args.seconds + PENDING_SECONDS
    return (
        max(
            args.jobs / args.rps,
            math.ceil(args.jobs / args.in_flight) * task,
            args.jobs / args.qps,
        )
        + task
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--rps", type=float, default=20.0)
    parser.add_argument("--in-flight", type=int, default=20)
    parser.add_argument("--qps", type=float, default=float(TASK_QUERY_RPS))
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--skip-sdk", action="store_true")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    urls = ctx.Queue()
    emulator = ctx.Process(
        target=serve, args=(args.rps, args.in_flight, args.qps, args.seconds, urls), daemon=True
    )
    emulator.start()
    root = Path(tempfile.mkdtemp(prefix="wanform-bench-"))
    try:
        base_url = urls.get(timeout=60)
        bound = lower_bound(args)
        print(
            f"{args.jobs} jobs, {MODEL}: {args.rps:g} submissions/s, {args.in_flight} in flight, "
            f"{args.seconds:g} s tasks (+{PENDING_SECONDS} s PENDING), "
            f"{args.qps:g} task queries/s"
        )
        before = peak_rss_mb()
        wall, cpu, engine_cpu = run_runner(base_url, root, args)
        peak = peak_rss_mb()
        print(
            f"runner: {wall:.2f} s wall, lower bound {bound:.2f} s "
            f"({(wall / bound - 1) * 100:+.1f}%); {traffic(base_url, RUNNER_KEY, args.jobs)}"
        )
        print(
            f"runner: {per_job_ms(cpu, args.jobs):.2f} ms CPU per job, "
            f"{per_job_ms(engine_cpu, args.jobs):.2f} of them in the engine"
        )
        print(
            f"runner: peak RSS {peak:.0f} MB ({before:.0f} MB before the runner's part; the "
            f"emulator's process not counted) [target: < {TARGET_RSS_MB} MB at 20,000 jobs]"
        )
        if not args.skip_sdk:
            sdk, sdk_cpu = run_sdk(base_url, root, args)
            print(
                f"dashscope SDK, {args.in_flight} threads: {sdk:.2f} s wall, "
                f"{per_job_ms(sdk_cpu, args.jobs):.2f} ms CPU per job; "
                f"{traffic(base_url, SDK_KEY, args.jobs)}"
            )
            print(
                f"runner / SDK wall time: {wall / sdk:.2f}, CPU time: {cpu / sdk_cpu:.2f} "
                f"(the engine's alone: {engine_cpu / sdk_cpu:.2f})"
            )
    finally:
        emulator.terminate()
        emulator.join(STOP_TIMEOUT)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
