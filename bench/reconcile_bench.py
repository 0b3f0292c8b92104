"""What a run pays in task-list requests to reconcile with a busy account before it submits.

Run: python bench/reconcile_bench.py [--tasks 50000] [--jobs 3]

An emulator (rate limits off, frozen clock so no task ends) is given TASKS tasks of wan2.7-image on
one key, as a busy account holds in a day; then `wanform run` of JOBS new jobs of that model runs
against it with no local state. Before its first submission it lists the model's tasks of the
service's last 24 h (100 a page, within the 20 queries/s budget): the bench prints the list
requests it made, the time they took at DashScope's query rate, and what the jobs became (with
TASKS unclaimed tasks on the account, each is unresolved rather than paid). Expected requests:
ceil(TASKS / 100), plus one when the run's first request is the list and its first page (asked
before the service's time is known) does not hold them all.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import wanform  # noqa: E402
from wanform.emulator import EmulatorConfig, start  # noqa: E402

KEY = "sk-bench-busy-account"
PATH = "/services/aigc/image-generation/generation"


async def fill(base: str, tasks: int) -> float:
    """Submit `tasks` text-to-image tasks on KEY, 64 at a time; seconds taken."""
    body = {
        "model": "wan2.7-image",
        "input": {"messages": [{"role": "user", "content": [{"text": "another client's task"}]}]},
        "parameters": {"n": 1},
    }
    headers = {"Authorization": f"Bearer {KEY}", "X-DashScope-Async": "enable"}
    started = time.perf_counter()
    left = iter(range(tasks))
    async with aiohttp.ClientSession() as http:

        async def worker() -> None:
            for _ in left:
                async with http.post(base + PATH, json=body, headers=headers) as resp:
                    assert resp.status == 200, await resp.text()

        await asyncio.gather(*(worker() for _ in range(64)))
    return time.perf_counter() - started


async def main(tasks: int, jobs: int) -> None:
    runner, base = await start(EmulatorConfig(port=0, speed=0.0, throttle=False, query_rps=1000))
    try:
        filled = await fill(base, tasks)
        print(f"account: {tasks} tasks of wan2.7-image made in {filled:.1f} s")
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            seeds = ", ".join(str(s) for s in range(jobs))
            (root / "recipes").mkdir()
            (root / "recipes" / "fox.yaml").write_text(
                f"model: wan2.7-image\nprompt: A fox.\nn: 1\nmatrix:\n  seed: [{seeds}]\n"
            )
            project = wanform.Project(root, env={"DASHSCOPE_API_KEY": KEY})
            settings = wanform.RunSettings(target=base, emulator_speed=1.0, query_rps="1000")
            started = time.perf_counter()
            result = (await project.run_async(settings=settings)).result
            took = time.perf_counter() - started
    finally:
        await runner.cleanup()
    lists = result.requests.get("list", 0)
    print(
        f"run of {jobs} new jobs: {lists} list requests (expected ceil({tasks}/100) + 1 = "
        f"{math.ceil(tasks / 100) + (tasks > 100)}), {result.requests.get('submit', 0)} "
        "submissions, "
        f"{took:.1f} s at 1000 queries/s here; at DashScope's 20 queries/s the lists take "
        f"{lists / 20:.0f} s"
    )
    states = sorted({j.state for j in result.jobs})
    print(f"jobs: {', '.join(states)} (unclaimed tasks on the account are never paid past)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50_000)
    parser.add_argument("--jobs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.jobs))
