"""The application as a whole: starting, serving, unknown routes, errors that never leak, admin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import aiohttp
import pytest
from emulator_api import (
    ASYNC,
    GENERATION,
    SYNC,
    SYNTHESIS,
    data_uri,
    image_urls,
    wan25,
    wan26,
    wan27,
    wanx21,
)

from wanform.emulator import EmulatorConfig, start
from wanform.emulator.http import dashscope as emulator_routes
from wanform.emulator.http.context import EMULATOR
from wanform.spec.emulator.wire import CLOCK, CLOCK_ADVANCE, RESET


async def test_start_listens_on_a_free_loopback_port():
    """`start()` serves on a free port and returns the base URL with that real port."""
    runner, base_url = await start()
    try:
        port = runner.addresses[0][1]
        assert base_url == f"http://127.0.0.1:{port}/api/v1"
        async with (
            aiohttp.ClientSession() as session,
            session.get(base_url + "/tasks/x") as response,
        ):
            assert (response.status, (await response.json())["code"]) == (401, "InvalidApiKey")
    finally:
        await runner.cleanup()


def test_serve_prints_its_base_url_and_dashboard_and_stops_on_sigterm():
    """`serve` prints `http://HOST:PORT/api/v1`, then the dashboard's URL on that port, which
    serves the page, and exits cleanly on SIGTERM."""
    code = "from emulator import EmulatorConfig, serve; serve(EmulatorConfig(port=0))"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:") and line.endswith("/api/v1")
        dashboard = process.stdout.readline().strip()
        assert dashboard == f"dashboard: {line.removesuffix('/api/v1')}/__emulator/ui/"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(dashboard.removeprefix("dashboard: "), timeout=10) as page:
            assert page.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()


async def test_unknown_routes_answer_in_dashscope_shape(api):
    """An unknown service path is "url error", other paths 404, a wrong method 405; all JSON."""
    status, answer = await api.call(
        "POST", "/api/v1/services/aigc/text2image/image-synthesis", wan25(), headers=ASYNC
    )
    assert (status, answer["code"], answer["message"]) == (
        400,
        "InvalidParameter",
        "url error, please check url!",
    )
    status, answer = await api.call("GET", "/api/v1/nothing")
    assert (status, answer["code"], answer["message"]) == (
        404,
        "NotFound",
        "Request path not found.",
    )
    status, answer = await api.call("GET", GENERATION)
    assert (status, answer["code"]) == (405, "MethodNotAllowed")


async def test_unexpected_errors_become_internal_error(api, monkeypatch):
    """An exception in a handler is answered 500 InternalError in the flat body, not a traceback."""

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(emulator_routes, "brief_for", broken)
    status, answer = await api.call("POST", GENERATION, wan27(), headers=ASYNC)
    assert (status, answer["code"], answer["message"]) == (
        500,
        "InternalError",
        "An internal error has occured, try again later or contact service support.",
    )
    assert "boom" not in str(answer)


HOSTILE = [
    {"model": None, "input": {}},
    {"model": ["wan2.7-image"], "input": {}},
    {"model": "wan2.7-image", "input": "text"},
    {"model": "wan2.7-image", "input": None},
    {"model": "wan2.7-image", "input": {"messages": {}}},
    {"model": "wan2.7-image", "input": {"messages": []}},
    {"model": "wan2.7-image", "input": {"messages": [None]}},
    {"model": "wan2.7-image", "input": {"messages": [{"role": "user", "content": [1, None, []]}]}},
    {"model": "wan2.7-image", "input": {"messages": [{"role": "user", "content": [{"image": 5}]}]}},
    {
        "model": "wan2.7-image",
        "input": {"messages": [{"role": "system", "content": [{"text": "x"}]}]},
    },
    {**wan27(), "parameters": None},
    {**wan27(), "parameters": []},
    wan27(n="two"),
    wan27(n=10**40),
    wan27(n=True),
    wan27(seed=-1),
    wan27(size="99999*99999"),
    wan27(size="0*0"),
    wan27(size=["2K"]),
    wan27(bbox_list="boxes"),
    wan27(bbox_list=[[[1, 2, 3]]]),
    wan27(bbox_list=[[["a", 2, 3, 4]]]),
    wan27(images=(data_uri(800, 600),), bbox_list=[[[0, 0, 10, 10]] * 5]),
    wan27(color_palette=[{"hex": 1, "ratio": None}] * 3),
    wan27(color_palette="red"),
    wan27(images=("data:image/png;base64,!!!!",)),
    wan27(images=("data:,plain",)),
    wan27(images=("",)),
    wan27(images=("http://[::1",)),
    wan27(prompt="\x00\ud800" * 10),
    wan26(enable_interleave=True, n=3),
    wan26(images=(data_uri(800, 600),) * 5),
    {"model": "wan2.5-i2i-preview", "input": {"prompt": 3, "images": "x"}},
    {"model": "wan2.5-i2i-preview", "input": {"prompt": "p", "images": []}},
    {"model": "wanx2.1-imageedit", "input": {"function": "expand", "prompt": "p"}},
    {
        "model": "wanx2.1-imageedit",
        "input": {"function": "nope", "prompt": "p", "base_image_url": data_uri(800, 600)},
    },
    {
        **wanx21(),
        "input": {
            **wanx21()["input"],
            "function": "description_edit_with_mask",
            "mask_image_url": data_uri(10, 10),
        },
    },
    {**wanx21(), "parameters": {"upscale_factor": 99, "top_scale": "big"}},
]


@pytest.mark.parametrize("body", HOSTILE)
async def test_hostile_bodies_never_crash(api, body):
    """Malformed and hostile bodies get a 4xx error body, or, if valid after all, a working task."""
    path = (
        SYNTHESIS
        if isinstance(body.get("model"), str) and body["model"].startswith(("wan2.5", "wanx"))
        else GENERATION
    )
    status, answer = await api.call("POST", path, body, headers=ASYNC)
    if status == 200:
        await api.advance(61)
        done = await api.task(answer["output"]["task_id"])
        assert done["output"]["task_status"] == "SUCCEEDED"
        assert [(await api.download(url))[0] for url in image_urls(done)] == [200] * done["usage"][
            "image_count"
        ]
        return
    assert 400 <= status < 500, answer
    assert answer["code"] and answer["request_id"]


async def test_deeply_nested_json_is_refused_not_crashed(api):
    """A body nested far deeper than any request is refused as illegal or invalid, never a crash."""
    deep = b'{"model": "wan2.7-image", "input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, answer = await api.call("POST", GENERATION, data=deep, headers=ASYNC)
    assert 400 <= status < 500 and answer["code"]


async def test_a_result_url_of_this_emulator_can_be_an_input(api):
    """A result URL fed back in is read (its size shapes the output); a dead link cannot be read."""
    first = await api.submit(wan27(size="1K", images=(data_uri(1000, 500),)))
    await api.advance(31)
    url = image_urls(await api.task(first))[0]
    second = await api.submit(wan26(images=(url,), size="1K"))
    await api.advance(61)
    width, height = map(int, (await api.task(second))["usage"]["size"].split("*"))
    assert 1.95 < width / height < 2.05
    status, answer = await api.call(
        "POST", GENERATION, wan26(images=(url.replace("Expires=", "Expires=1"),)), headers=ASYNC
    )
    assert (status, answer["message"]) == (400, "Failed to download multimodal content.")


async def test_public_url_names_result_links(make_api):
    """With public_url set, result links use it instead of the request's Host."""
    api = await make_api(public_url="http://emulator.test:9000")
    task_id = await api.submit(wan27(size="1K"))
    await api.advance(31)
    assert image_urls(await api.task(task_id))[0].startswith("http://emulator.test:9000/__results/")


async def test_reset_forgets_everything_and_rewinds_the_clock(api):
    """After a reset there are no tasks and no request log, and the clock is back near real time."""
    task_id = await api.submit(wan27())
    await api.advance(10_000)
    _, before = await api.call("GET", CLOCK, key=None)
    assert (await api.call("POST", RESET, key=None))[0] == 200
    _, after = await api.call("GET", CLOCK, key=None)
    assert before["now"] - after["now"] > 9_000
    assert await api.status(task_id) == "UNKNOWN"
    assert [e["path"] for e in await api.requests()] == [f"/api/v1/tasks/{task_id}"]


async def test_reset_empties_the_png_cache(api):
    """A downloaded result sits in the emulator's PNG cache until a reset empties it."""
    task_id = await api.submit(wan27(size="1K"))
    await api.advance(31)
    status, _ = await api.download(image_urls(await api.task(task_id))[0])
    pngs = api.client.app[EMULATOR].pngs
    cached = len(pngs)
    await api.call("POST", RESET, key=None)
    assert (status, cached, len(pngs), pngs.nbytes) == (200, 1, 0, 0)


@pytest.mark.parametrize("body", [{"seconds": -1}, {"seconds": "ten"}, {}, {"seconds": True}])
async def test_clock_advance_needs_a_non_negative_number(api, body):
    """The clock only moves forward, by a number of seconds."""
    status, answer = await api.call("POST", CLOCK_ADVANCE, body, key=None)
    assert (status, answer["code"]) == (400, "InvalidParameter")


async def test_admin_requests_are_not_logged(api):
    """Only API, upload and result requests appear in the request log."""
    await api.call("GET", CLOCK, key=None)
    await api.call("POST", SYNC, wan27(), headers=ASYNC)
    assert [e["path"] for e in await api.requests()] == [SYNC]


def test_config_rejects_impossible_settings():
    """A negative speed or a key without the sk- prefix is a configuration error."""
    with pytest.raises(ValueError, match="speed"):
        EmulatorConfig(speed=-1)
    with pytest.raises(ValueError, match="sk-"):
        EmulatorConfig(api_keys=("pk-1",))


async def test_a_task_query_raises_no_key_error_inside_aiohttp(api, monkeypatch):
    """The request's facts are set once by a middleware: reading them never misses, so no
    KeyError is raised (and caught) inside aiohttp's request mapping on a query."""
    task_id = await api.submit(wan27())
    misses = []
    lookup = aiohttp.web.BaseRequest.__getitem__

    def counting(request, key):
        try:
            return lookup(request, key)
        except KeyError:
            misses.append(key)
            raise

    monkeypatch.setattr(aiohttp.web.BaseRequest, "__getitem__", counting)
    assert (await api.status(task_id), misses) == ("PENDING", [])
