"""Outputs in an S3-compatible store (moto's server on 127.0.0.1) beside the same run on disk,
then a no-change plan over many jobs whose outputs are in the store.

Run: python bench/store_bench.py [--jobs 500] [--plan-jobs 20000] [--skip-run] [--skip-plan]

The run: JOBS one-image jobs (each its own recipe with the same body, so the emulator, in its own
process, renders once) run through `wanform.Project` with `out: out`, then with
`out: s3://bench/shots`, each in a fresh process whose wall time and peak RSS (ru_maxrss) are
reported; the ratio is store over disk. The plan: PLAN_JOBS jobs (recipes of four seeds each)
recorded in a lock whose outputs are objects in the store, with their sha256 as metadata and their
ETags in the lock (as a run records them), then `wanform plan` timed in this process: cold is a
fresh clone's (no `.wanform/`), where one listing of the prefix matched against the lock's ETags
settles every output; warm has the plan's caches (target: under 10 s for 20,000 jobs). Each plan
is printed as wall time and as this process's CPU time (moto's is its own); on a busy machine the
wall time includes waiting for a core. Needs the `test` extra (moto[server]).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s3_client_bench import CREDENTIALS, make_bucket, start_moto  # noqa: E402

KEY = "sk-wanform-bench-store"
RECIPE = "model: wan2.7-image\nname: {name}\nprompt: A red fox in fresh snow.\nsize: 1K\nn: 1\n"
PLAN_TARGET_S = 10.0


def bench_models():
    """The model table with fast tasks and raised limits, for the emulator and the runner alike."""
    from dataclasses import replace

    from wanform.spec.models import MODELS

    fast = replace(MODELS["wan2.7-image"], submit_rps=200, max_in_flight=100, typical_seconds=0.2)
    return {**MODELS, "wan2.7-image": fast}


def serve(urls: multiprocessing.Queue) -> None:
    """The emulator's process, fast tasks and limits raised, until it is terminated."""
    from wanform.emulator import EmulatorConfig, start

    async def main() -> None:
        config = EmulatorConfig(port=0, models=bench_models(), query_rps=400)
        runner, base_url = await start(config)
        urls.put(base_url)
        await asyncio.Event().wait()

    asyncio.run(main())


def one_run(root: str, out: str, base_url: str, endpoint: str, jobs: int) -> None:
    """A child process: JOBS recipes, one run into `out`; prints seconds and peak RSS (MB)."""
    import wanform

    folder = Path(root)
    (folder / "recipes").mkdir(parents=True)
    for i in range(jobs):
        (folder / "recipes" / f"job-{i:04d}.yaml").write_text(RECIPE.format(name=f"job-{i:04d}"))
    storage = f"storage:\n  endpoint: {endpoint}\n  region: us-east-1\n"
    (folder / "wanform.yaml").write_text(f"out: {out}\n" + (storage if "://" in out else ""))
    # a key per run: the emulator's account holds the other run's tasks, which this one would
    # rightly refuse to pay past
    key = f"{KEY}-{hashlib.sha256(out.encode()).hexdigest()[:8]}"
    env = {"DASHSCOPE_API_KEY": key, **CREDENTIALS, "NO_PROXY": "127.0.0.1"}
    settings = wanform.RunSettings(
        target=base_url, emulator_speed=1.0, max_in_flight="100", submit_rps="200", query_rps="400"
    )
    started = time.perf_counter()
    outcome = wanform.Project(folder, models=bench_models(), env=env).run(settings=settings)
    wall = time.perf_counter() - started
    failed = [j for j in outcome.result.jobs if j.error is not None]
    if failed:
        raise SystemExit(f"{len(failed)} jobs failed: {failed[0].error}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "peak": peak}))


def timed_run(out: str, base_url: str, endpoint: str, jobs: int) -> dict:
    with tempfile.TemporaryDirectory() as root:
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); from store_bench import one_run; "
            "one_run(*sys.argv[2:6], int(sys.argv[6]))"
        )
        argv = [sys.executable, "-c", code, str(Path(__file__).parent), root, out]
        done = subprocess.run(
            [*argv, base_url, endpoint, str(jobs)], capture_output=True, text=True, env=os.environ
        )
        if done.returncode != 0:
            raise SystemExit(f"the run into {out} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def bench_run(base_url: str, endpoint: str, jobs: int) -> None:
    disk = timed_run("out", base_url, endpoint, jobs)
    store = timed_run("s3://bench/shots", base_url, endpoint, jobs)
    print(
        f"run of {jobs} jobs: disk {disk['wall']:.2f} s, peak RSS {disk['peak']:.0f} MB; "
        f"store {store['wall']:.2f} s, peak RSS {store['peak']:.0f} MB; "
        f"wall ratio store/disk {store['wall'] / disk['wall']:.2f}"
    )


def bench_plan(endpoint: str, jobs: int) -> None:
    """A lock of JOBS jobs whose outputs are objects in the store, then a timed no-change plan."""
    from click.testing import CliRunner

    from wanform.runner.cli import main as wanform
    from wanform.runner.gitops.fingerprint import HashCache
    from wanform.runner.gitops.lockfile import LockFile
    from wanform.runner.gitops.plan import lock_entry, look_up_outputs, make_plan
    from wanform.runner.recipes.check import validate_paths
    from wanform.runner.storage.location import Location
    from wanform.runner.storage.s3 import Store, StoreSettings, wait_for

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "recipes").mkdir()
        for r in range(jobs // 4):
            (root / "recipes" / f"r{r:05d}.yaml").write_text(
                f"model: wan2.7-image\nprompt: bench job {r}\nn: 1\nmatrix:\n  seed: [0, 1, 2, 3]\n"
            )
        (root / "wanform.yaml").write_text(
            f"out: s3://plan/shots\ntarget: emulator\n"
            f"storage:\n  endpoint: {endpoint}\n  region: us-east-1\n"
        )
        stage = root / ".wanform" / "stage"  # the run's: its objects.json is the plan's
        store = Store(Location("plan", "shots"), StoreSettings(endpoint), os.environ, stage)
        checked = validate_paths([str(root / "recipes")], root=root)
        lock = LockFile.load(root / "wanform.lock")
        plan = make_plan(checked.jobs, lock, root, HashCache(root), target="emulator")
        data = b"\x89PNG bench"
        sha = hashlib.sha256(data).hexdigest()
        uris = [store.location.uri(f"shots/{i:05d}.png") for i in range(len(plan.jobs))]
        started = time.perf_counter()
        etags = wait_for(lambda: _put_all(store, uris, data, sha))
        put_s = time.perf_counter() - started
        for job, uri in zip(plan.jobs, uris, strict=True):
            output = {"index": 1, "path": uri, "sha256": f"sha256:{sha}", "width": 1, "height": 1}
            output["etag"] = etags[uri]  # as a run records it
            lock.jobs[job.key] = lock_entry(
                job,
                target="emulator",
                task_id="t",
                request_id="r",
                finished=None,
                outputs=[output | {"bytes": len(data)}],  # type: ignore[list-item]
                failures=[],
            )
        lock.save()
        shutil.rmtree(root / ".wanform", ignore_errors=True)  # a fresh clone: the lock alone
        for label in ("cold", "warm"):
            started, cpu = time.perf_counter(), time.process_time()
            result = CliRunner().invoke(wanform, ["plan", "-o", "json", "--root", str(root)])
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            if result.exit_code != 0:
                raise SystemExit(f"plan failed: {result.output[-2000:]}")
            summary = json.loads(result.stdout)["summary"]
            verdict = "met" if elapsed < PLAN_TARGET_S else "NOT met"
            print(
                f"plan ({label} caches), {len(uris)} jobs with outputs in the store: "
                f"{elapsed:.2f} s ({cpu:.2f} s CPU), {summary['unchanged']} unchanged "
                f"[target < {PLAN_TARGET_S:g} s at 20,000 jobs: {verdict}] "
                f"(putting the objects took {put_s:.1f} s)"
            )
        started = time.perf_counter()
        look_up_outputs(LockFile.load(root / "wanform.lock"), HashCache(root), store)
        print(
            f"of which the store's part (listing the prefix, ETags known from the lock): "
            f"{time.perf_counter() - started:.2f} s"
        )


async def _put_all(store, uris: list[str], data: bytes, sha: str) -> dict[str, str]:
    """Put `data` at every URI; each one's ETag, by URI."""
    import obstore

    gate = asyncio.Semaphore(64)

    async def one(uri: str) -> tuple[str, str]:
        async with gate:
            key = store.location.key_of(uri)
            put = await obstore.put_async(store.client, key, data, attributes={"sha256": sha})
            return uri, str(put["e_tag"])

    return dict(await asyncio.gather(*(one(u) for u in uris)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--plan-jobs", type=int, default=20000)
    parser.add_argument("--skip-run", action="store_true")
    parser.add_argument("--skip-plan", action="store_true")
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    server, endpoint = start_moto()
    emulator = None
    try:
        make_bucket(endpoint, "bench")
        make_bucket(endpoint, "plan")
        if not args.skip_run:
            urls: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
            emulator = multiprocessing.get_context("spawn").Process(
                target=serve, args=(urls,), daemon=True
            )
            emulator.start()
            bench_run(urls.get(timeout=60), endpoint, args.jobs)
        if not args.skip_plan:
            bench_plan(endpoint, args.plan_jobs)
    finally:
        if emulator is not None:
            emulator.terminate()
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
