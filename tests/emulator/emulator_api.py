"""Helpers for the emulator tests: request bodies per model, a small API client, schema checks."""

from __future__ import annotations

import base64
import io
import json
import sys
from typing import Any

from aiohttp.test_utils import TestClient
from jsonschema import Draft7Validator
from PIL import Image

from wanform.spec.emulator.wire import CLOCK_ADVANCE, FAULTS, REQUESTS
from wanform.spec.schema import load_schema

KEY = "sk-test-account-one"
OTHER_KEY = "sk-test-account-two"
SYNC = "/api/v1/services/aigc/multimodal-generation/generation"
GENERATION = "/api/v1/services/aigc/image-generation/generation"
SYNTHESIS = "/api/v1/services/aigc/image2image/image-synthesis"
ASYNC = {"X-DashScope-Async": "enable"}


def png(width: int, height: int, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, fmt)
    return buffer.getvalue()


def data_uri(width: int, height: int) -> str:
    return "data:image/png;base64," + base64.b64encode(png(width, height)).decode()


def messages(prompt: str = "a red bicycle", images: tuple[str, ...] = ()) -> dict:
    return {
        "messages": [
            {"role": "user", "content": [{"text": prompt}, *({"image": i} for i in images)]}
        ]
    }


def wan27(prompt: str = "a red bicycle", images: tuple[str, ...] = (), **parameters: Any) -> dict:
    return {
        "model": "wan2.7-image",
        "input": messages(prompt, images),
        "parameters": {"n": 1, **parameters},
    }


def wan26(prompt: str = "a red bicycle", images: tuple[str, ...] = (), **parameters: Any) -> dict:
    return {
        "model": "wan2.6-image",
        "input": messages(prompt, images),
        "parameters": {"n": 1, **parameters},
    }


def wan25(
    prompt: str = "put the clock by the vase", images: tuple[str, ...] = (), **parameters: Any
) -> dict:
    return {
        "model": "wan2.5-i2i-preview",
        "input": {"prompt": prompt, "images": list(images or (data_uri(800, 600),))},
        "parameters": {"n": 1, **parameters},
    }


def wanx21(prompt: str = "make it a watercolour", **parameters: Any) -> dict:
    return {
        "model": "wanx2.1-imageedit",
        "input": {
            "function": "stylization_all",
            "prompt": prompt,
            "base_image_url": data_uri(800, 600),
        },
        "parameters": {"n": 1, **parameters},
    }


def assert_schema(name: str, body: dict) -> None:
    """The body matches the hand-written response schema `name` in spec/schemas."""
    errors = [e.message for e in Draft7Validator(load_schema(name)).iter_errors(body)]
    assert errors == []


class Api:
    """Requests against the emulator under test, with a default key."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = KEY,
        headers: dict | None = None,
        data: bytes | None = None,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        payload = (
            io.BytesIO(data) if data is not None else None
        )  # aiohttp warns about large raw bytes bodies
        response = await self.client.request(method, path, data=payload, headers=sent)
        text = await response.text()
        is_json = response.content_type == "application/json"
        return response.status, (await response.json() if is_json and text else text)

    async def submit(
        self, body: dict, path: str = GENERATION, key: str = KEY, headers: dict | None = None
    ) -> str:
        """Create an async task; its id."""
        status, answer = await self.call(
            "POST", path, body, key=key, headers={**ASYNC, **(headers or {})}
        )
        assert status == 200, answer
        return answer["output"]["task_id"]

    async def task(self, task_id: str, key: str = KEY) -> dict:
        status, answer = await self.call("GET", f"/api/v1/tasks/{task_id}", key=key)
        assert status == 200, answer
        return answer

    async def status(self, task_id: str, key: str = KEY) -> str:
        return (await self.task(task_id, key))["output"]["task_status"]

    async def advance(self, seconds: float) -> None:
        status, answer = await self.call("POST", CLOCK_ADVANCE, {"seconds": seconds}, key=None)
        assert status == 200, answer

    async def add_fault(self, rule: Any) -> list[dict]:
        status, answer = await self.call("POST", FAULTS, rule, key=None)
        assert status == 201, answer
        return answer["faults"]

    async def requests(self, key: str | None = None) -> list[dict]:
        """The request log, of one key's account when given."""
        status, answer = await self.call("GET", REQUESTS, key=key)
        assert status == 200, answer
        return answer["entries"]

    async def download(self, url: str) -> tuple[int, bytes]:
        async with self.client.session.get(url) as response:
            return response.status, await response.read()


def image_urls(body: dict) -> list[str]:
    """Every result URL in a task or sync body, in either style."""
    output = body["output"]
    if "results" in output:
        return [r["url"] for r in output["results"] if "url" in r]
    return [
        c["image"]
        for choice in output["choices"]
        for c in choice["message"]["content"]
        if c["type"] == "image"
    ]


def emulator_command(*args: str) -> list[str]:
    """`wanform emulator` on a free port, with `args`, as a command line for a subprocess."""
    return [sys.executable, "-m", "wanform.runner.cli", "emulator", "--port", "0", *args]
