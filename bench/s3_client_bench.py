"""Which S3 client the runner uses: upload throughput and peak memory, obstore against aiobotocore.

Run: python bench/s3_client_bench.py [--images 500] [--mb 4] [--concurrency 16]
Starts moto's S3 server on 127.0.0.1 (the test suite's server), writes `--images` files of `--mb`
MB, and uploads them all, streamed from disk, once per client, each in a fresh subprocess whose
own peak resident memory (ru_maxrss) and import time are reported beside its wall time. Needs the
`test` extra (moto[server]) and aiobotocore, which wanform itself does not install.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}

OBSTORE = """
import asyncio, sys, time
from pathlib import Path
t0 = time.perf_counter()
import obstore
from obstore.store import S3Store
imported = time.perf_counter() - t0
endpoint, bucket, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
concurrency = int(sys.argv[4])
store = S3Store(bucket, endpoint=endpoint, region="us-east-1", client_options={"allow_http": True})
async def main():
    gate = asyncio.Semaphore(concurrency)
    async def one(path):
        async with gate:
            await obstore.put_async(store, "obstore/" + path.name, path, attributes={"sha256": "x"})
    await asyncio.gather(*(one(p) for p in sorted(folder.iterdir())))
t1 = time.perf_counter()
asyncio.run(main())
import resource
print(imported, time.perf_counter() - t1, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

AIOBOTOCORE = """
import asyncio, sys, time
from pathlib import Path
t0 = time.perf_counter()
from aiobotocore.session import get_session
imported = time.perf_counter() - t0
endpoint, bucket, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
concurrency = int(sys.argv[4])
async def main():
    gate = asyncio.Semaphore(concurrency)
    session = get_session()
    async with session.create_client("s3", endpoint_url=endpoint, region_name="us-east-1") as s3:
        async def one(path):
            async with gate:
                with open(path, "rb") as body:
                    await s3.put_object(
                        Bucket=bucket, Key="aiobotocore/" + path.name, Body=body,
                        Metadata={"sha256": "x"},
                    )
        await asyncio.gather(*(one(p) for p in sorted(folder.iterdir())))
t1 = time.perf_counter()
asyncio.run(main())
import resource
print(imported, time.perf_counter() - t1, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    """moto's server on a free port, waited for until it answers; it and its endpoint."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("moto's server did not start")


def make_bucket(endpoint: str, bucket: str) -> None:
    import boto3  # moto's own dependency

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)


def write_images(folder: Path, count: int, size: int) -> None:
    block = os.urandom(size)
    for i in range(count):
        (folder / f"image-{i:04d}.png").write_bytes(i.to_bytes(4, "big") + block[4:])


def measure(name: str, script: str, argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        env={**os.environ, **CREDENTIALS},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    imported, wall, peak = (float(x) for x in done.stdout.split())
    count, megabytes = int(argv[4]), float(argv[5])
    print(
        f"{name:12} upload {wall:6.2f} s  {count * megabytes / wall:7.1f} MB/s  "
        f"import {imported * 1000:5.0f} ms  peak RSS {peak / 1024:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--mb", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    server, endpoint = start_moto()
    try:
        make_bucket(endpoint, "bench")
        with tempfile.TemporaryDirectory() as tmp:
            write_images(Path(tmp), args.images, int(args.mb * (1 << 20)))
            argv = [endpoint, "bench", tmp, str(args.concurrency), str(args.images), str(args.mb)]
            measure("obstore", OBSTORE, argv)
            measure("aiobotocore", AIOBOTOCORE, argv)
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
