"""A result image is written off the event loop, in one worker-thread hop per download."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from runner_kit import make_project, run

from wanform.runner.api.client import Client
from wanform.runner.engine import results
from wanform.runner.files.atomic import AtomicFile

FOXES = """\
    model: wan2.7-image
    prompt: A red fox in the snow.
    n: {n}
    seed: 1
    """


async def thread_hops(root, emulators, monkeypatch, images: int) -> int:
    """Worker-thread hops of a run of one job making `images` images, in a fresh project and
    account (the other's task would be unclaimed in it)."""
    emulator = await emulators()
    project = make_project(root)
    project.recipe("foxes", FOXES.format(n=images))
    real = asyncio.to_thread
    hops = 0

    async def counted(func, /, *args, **kwargs):
        nonlocal hops
        hops += 1
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    result = await run(project, emulator)
    monkeypatch.undo()
    assert result.result.exit_code == 0, result.err
    assert len(result.result.jobs[0].images) == images
    return hops


async def test_each_download_costs_one_thread_hop(tmp_path, emulators, monkeypatch):
    """Two more images in a job cost two more worker-thread hops: one per download."""
    one = await thread_hops(tmp_path / "one", emulators, monkeypatch, 1)
    three = await thread_hops(tmp_path / "three", emulators, monkeypatch, 3)
    assert three - one == 2


async def test_no_result_bytes_are_written_on_the_event_loop(project, emulators, monkeypatch):
    """Every write to a result file happens in a worker thread, not on the loop's thread."""
    emulator = await emulators()
    project.recipe("foxes", FOXES.format(n=2))
    real = AtomicFile.write
    threads = []

    def write(self: AtomicFile, data: bytes) -> None:
        threads.append(threading.current_thread())
        real(self, data)

    monkeypatch.setattr(AtomicFile, "write", write)
    result = await run(project, emulator)
    assert result.result.exit_code == 0, result.err
    assert threads and threading.main_thread() not in threads


async def test_a_body_larger_than_the_spool_is_written_out_as_it_comes(tmp_path, monkeypatch):
    """Past SPOOL_BYTES a download's bytes go to its file, so a large image is never held whole;
    the file holds every byte once committed."""
    monkeypatch.setattr(results, "SPOOL_BYTES", 10)
    spool = results.Spool(tmp_path / "big-1.png")
    for part in (b"a" * 6, b"b" * 6, b"c" * 6):
        await spool.write(part)
        assert spool.held < 10
    out = spool.spill()
    out.commit()
    assert (tmp_path / "big-1.png").read_bytes() == b"a" * 6 + b"b" * 6 + b"c" * 6


async def test_a_download_cancelled_while_its_thread_writes_leaves_no_temporary(
    tmp_path, monkeypatch
):
    """A run stopped (a full disk under the journal, say) while a download's worker thread makes
    its file: the download waits for the thread before it discards the file, so none is left."""
    release, made = threading.Event(), threading.Event()

    class SlowFile(AtomicFile):
        def __init__(self, path):
            release.wait(10)
            super().__init__(path)
            made.set()

    monkeypatch.setattr(results, "AtomicFile", SlowFile)
    spool = results.Spool(tmp_path / "fox-1.png")

    async def attempt():
        try:
            await spool.write(b"x" * results.SPOOL_BYTES)  # a hop to spill it
        except BaseException:
            spool.discard()
            raise

    task = asyncio.create_task(attempt())
    await asyncio.sleep(0.05)  # into the thread, which waits to make the file
    task.cancel()
    release.set()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert made.wait(10)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


async def test_a_run_holds_at_most_downloads_images_at_once(project, emulators, monkeypatch):
    """Downloads wait for a free place among DOWNLOADS, so jobs ending together do not hold
    every image in memory at once."""
    emulator = await emulators()
    project.recipe("foxes", FOXES.format(n=3))
    monkeypatch.setattr(results, "DOWNLOADS", 2)
    real = Client.download
    now = most = 0

    async def download(self: Client, url, sink):
        nonlocal now, most
        now += 1
        most = max(most, now)
        try:
            return await real(self, url, sink)
        finally:
            now -= 1

    monkeypatch.setattr(Client, "download", download)
    result = await run(project, emulator)
    assert result.result.exit_code == 0, result.err
    assert len(result.result.jobs[0].images) == 3
    assert most == 2
