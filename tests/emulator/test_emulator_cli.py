"""`wanform emulator` as a process: --variants and WANFORM_VARIANTS pick the guessed answers;
--input-store-mb and WANFORM_EMULATOR_INPUT_STORE_MB cap the input store; --loopback-inputs
lets it fetch input URLs on loopback."""

from __future__ import annotations

import base64
import importlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from click.testing import CliRunner
from emulator_api import ASYNC, GENERATION, KEY, emulator_command, wan27
from PIL import Image

TIMEOUT_SECONDS = 30


def request(base: str, path: str, body: dict | None = None) -> dict:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", **ASYNC}
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(base + path, data=data, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(sent, timeout=TIMEOUT_SECONDS) as response:
        return json.loads(response.read())


def default_n_images(*args: str, env: dict[str, str] | None = None) -> int:
    """Start the emulator with `args`, make a wan2.7 task without n; how many images it made."""
    command = emulator_command("--speed", "1000")
    process = subprocess.Popen(
        [*command, *args], stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    try:
        root = process.stdout.readline().strip().removesuffix("/api/v1")
        body = wan27()
        del body["parameters"]["n"]
        task_id = request(root, GENERATION, body)["output"]["task_id"]
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            task = request(root, f"/api/v1/tasks/{task_id}")
            if task["output"]["task_status"] == "SUCCEEDED":
                return task["usage"]["image_count"]
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} did not finish")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=TIMEOUT_SECONDS)
        process.stdout.close()


def test_variants_option_and_environment_change_the_default_n() -> None:
    assert default_n_images() == 4
    assert default_n_images("--variants", "wan2.7.n_default=1") == 1
    assert default_n_images(env={"WANFORM_VARIANTS": "wan2.7.n_default=1"}) == 1


def test_an_unknown_variant_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wanform.runner.cli", "emulator", "--variants", "sets.count=all"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 2 and "unknown variant sets.count=all" in done.stderr


def refusal_of_a_large_input(*args: str, env: dict[str, str] | None = None) -> str:
    """Start the emulator with `args`; the message refusing a task with a 1.2 MB input."""
    noise = Image.frombytes("RGB", (700, 600), (bytes(range(256)) * 4922)[: 700 * 600 * 3])
    buffer = io.BytesIO()
    noise.save(buffer, "PNG", compress_level=0)
    image = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    command = [sys.executable, "-m", "wanform.runner.cli", "emulator", "--port", "0", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    try:
        root = process.stdout.readline().strip().removesuffix("/api/v1")
        try:
            request(root, GENERATION, wan27(images=(image,)))
        except urllib.error.HTTPError as refused:
            return json.loads(refused.read())["message"]
        return "accepted"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=TIMEOUT_SECONDS)
        process.stdout.close()


def test_input_store_option_and_environment_set_the_cap() -> None:
    """The cap comes from --input-store-mb, else WANFORM_EMULATOR_INPUT_STORE_MB (default 512)."""
    too_large = "whole input store (1048576 bytes"
    assert refusal_of_a_large_input() == "accepted"
    assert too_large in refusal_of_a_large_input("--input-store-mb", "1")
    assert too_large in refusal_of_a_large_input(env={"WANFORM_EMULATOR_INPUT_STORE_MB": "1"})


def test_loopback_inputs_is_off_unless_asked(monkeypatch) -> None:
    """--loopback-inputs lets the emulator fetch input URLs on 127.0.0.1; it never does unasked."""
    module = importlib.import_module("wanform.runner.cli.emulator")
    served = []
    monkeypatch.setattr(module, "serve", served.append)
    for args in ([], ["--loopback-inputs"]):
        assert CliRunner().invoke(module.emulator, args).exit_code == 0
    assert [config.loopback_inputs for config in served] == [False, True]
