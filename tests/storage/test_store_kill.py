"""`kill -9` in the middle of an upload: no object appears under a final key half-written, and the
next run cleans up what the killed one left and stores the image from the same task."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys

import pytest
from store_kit import StoreProject

SUBMIT = "/api/v1/services/aigc/image-generation/generation"


@pytest.mark.slow  # a runner process of its own, killed
def test_kill_9_during_an_upload_leaves_no_partial_object(
    tmp_path, s3_server, bucket, emulator, proxy
):
    """The run is killed while its image is on the wire to the store: the key stays empty; the
    rerun sweeps the stage and stores the image, whole, without a second task."""
    base_url, admin = emulator
    made = StoreProject.make(tmp_path, s3_server, bucket, base_url)
    made.configure(proxy.endpoint)
    proxy.stall_on = b"PUT /"
    env = {k: v for k, v in {**os.environ, **made.env()}.items() if v is not None}
    argv = [sys.executable, "-m", "wanform.runner.cli", "run", "--root", str(tmp_path)]
    argv += ["--target", base_url, "--emulator-speed", "100"]
    runner = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert proxy.stalled.wait(60), f"no upload began (the run exited {runner.poll()})"
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
    assert made.objects() == []
    assert list((tmp_path / ".wanform" / "stage").rglob("*.png"))  # the image it was storing
    submitted = sum(1 for r in admin.requests() if r.get("path") == SUBMIT)

    proxy.close()
    made.configure(s3_server.endpoint)
    again = made.wanform("run")
    assert again.exit_code == 0, again.output
    assert "stale temporary file(s) of a killed run" in again.output
    assert not list((tmp_path / ".wanform" / "stage").rglob("*.png"))
    data, meta = made.get("shots/fox/fox-1.png") or (b"", {})
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    lock = json.loads((tmp_path / "wanform.lock").read_text())["jobs"]
    assert lock["recipes/fox.yaml::fox"]["outputs"][0]["sha256"] == f"sha256:{meta['sha256']}"
    assert sum(1 for r in admin.requests() if r.get("path") == SUBMIT) == submitted
