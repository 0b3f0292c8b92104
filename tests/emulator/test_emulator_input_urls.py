"""Input URLs are fetched as DashScope downloads them: a dead link fails the task, a non-image or
an image out of range is refused as its bytes would be in a data URI, a private or loopback
address is never read (loopback only when allowed), and an unreachable host is taken unseen under
the guess `inputs.not_fetched`."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web
from emulator_api import ASYNC, KEY, SYNC, Api, png, wan26, wan27

from wanform.emulator.http.client import inputurls
from wanform.emulator.http.client.inputurls import Fetched, InputFetcher, Unfetched
from wanform.spec.emulator.wire import RESET, UNVERIFIED_HEADER
from wanform.spec.errors import DOWNLOAD_FAILED
from wanform.spec.models import MB, table

AUTH = {"Authorization": f"Bearer {KEY}"}
UNREACHABLE = "https://images.example.invalid/cat.png"  # .invalid never resolves (RFC 6761)
PNG_HEAD = png(800, 600)


@pytest.fixture
async def images(aiohttp_server):
    """A server on 127.0.0.1 with an image, a small one, a page, a 404, redirects and a large file;
    `hits` counts the requests of each path."""
    hits: dict[str, int] = {}
    bodies = {
        "/cat.png": (PNG_HEAD, "image/png"),
        "/tiny.png": (png(100, 100), "image/png"),
        "/page.html": (b"<html><body>not an image</body></html>", "text/html"),
        # a PNG header padded past wan2.6's 10 MB (Pillow reads only the header)
        "/huge.png": (PNG_HEAD + bytes(10 * MB), "image/png"),
    }

    async def serve(request: web.Request) -> web.StreamResponse:
        hits[request.path] = hits.get(request.path, 0) + 1
        if request.path == "/to-file":
            raise web.HTTPFound("file:///etc/passwd")
        if request.path == "/to-cat":
            raise web.HTTPFound("/cat.png")
        if request.path not in bodies:
            raise web.HTTPNotFound()
        body, kind = bodies[request.path]
        return web.Response(body=body, content_type=kind)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    server = await aiohttp_server(app)
    server.hits = hits
    return server


def url(server, path: str) -> str:
    return str(server.make_url(path))


async def post(api: Api, body: dict) -> tuple[int, dict, list[str]]:
    response = await api.client.post(
        "/api/v1/services/aigc/image-generation/generation", json=body, headers={**AUTH, **ASYNC}
    )
    marks = [g for g in response.headers.get(UNVERIFIED_HEADER, "").split(",") if g]
    return response.status, await response.json(), marks


async def ended(api: Api, created: dict) -> dict:
    await api.advance(60)
    return (await api.task(created["output"]["task_id"]))["output"]


async def test_a_fetched_url_is_checked_like_the_same_bytes_inline(api, images):
    """An image too small behind a URL is refused as it is in a data URI (accepted until now)."""
    status, answer, _ = await post(api, wan27(images=(url(images, "/tiny.png"),)))
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert "image 1 width is 100 px" in answer["message"]


async def test_a_page_instead_of_an_image_is_refused(api, images):
    status, answer, _ = await post(api, wan27(images=(url(images, "/page.html"),)))
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert "not a readable image" in answer["message"]


async def test_an_image_over_the_models_bytes_is_refused(api, images):
    status, answer, _ = await post(api, wan26(images=(url(images, "/huge.png"),)))
    assert status == 400 and f"takes at most {10 * MB}" in answer["message"], answer


@pytest.mark.parametrize("path", ["/missing.png", "/to-file"])
async def test_a_download_failure_fails_the_task(api, images, path):
    """A 404, or a redirect to another scheme: the task is created, then FAILED as DashScope
    reports a download failure."""
    status, created, _ = await post(api, wan27(images=(url(images, path),)))
    assert status == 200
    output = await ended(api, created)
    assert (output["task_status"], output["code"], output["message"]) == (
        "FAILED",
        "InvalidParameter",
        DOWNLOAD_FAILED,
    )


async def test_a_sync_call_whose_input_fails_to_download_answers_400(make_api, images):
    api = await make_api(speed=1000)
    body = wan27(images=(url(images, "/missing.png"),))
    status, answer = await api.call("POST", SYNC, body)
    assert (status, answer["code"], answer["message"]) == (400, "InvalidParameter", DOWNLOAD_FAILED)


async def test_loopback_is_not_fetched_unless_allowed(make_api, images):
    """Started without loopback inputs, the emulator never reads its own machine's ports."""
    api = await make_api(loopback_inputs=False)
    status, created, _ = await post(api, wan27(images=(url(images, "/cat.png"),)))
    assert status == 200 and (await ended(api, created))["task_status"] == "FAILED"
    assert images.hits == {}


async def test_a_url_is_fetched_once_until_a_reset_and_redirects_are_followed(api, images):
    for _ in range(2):
        status, created, marks = await post(api, wan27(images=(url(images, "/to-cat"),)))
        assert (status, marks) == (200, [])
        assert (await ended(api, created))["task_status"] == "SUCCEEDED"
    assert images.hits == {"/to-cat": 1, "/cat.png": 1}
    assert (await api.call("POST", RESET, key=None))[0] == 200
    assert (await post(api, wan27(images=(url(images, "/cat.png"),))))[0] == 200
    assert images.hits == {"/to-cat": 1, "/cat.png": 2}


async def test_an_unreachable_host_is_taken_unseen_and_named(api):
    status, created, marks = await post(api, wan27(images=(UNREACHABLE,)))
    assert (status, marks) == (200, ["inputs.not_fetched"])
    assert (await ended(api, created))["task_status"] == "SUCCEEDED"


async def test_an_unreachable_host_fails_the_task_with_the_alternative(make_api):
    api = await make_api(models=table({"inputs.not_fetched": "fail"}))
    status, created, marks = await post(api, wan27(images=(UNREACHABLE,)))
    assert (status, marks) == (200, ["inputs.not_fetched"])
    output = await ended(api, created)
    assert (output["task_status"], output["message"]) == ("FAILED", DOWNLOAD_FAILED)


@pytest.mark.parametrize(
    "address",
    ["http://10.0.0.1/a.png", "http://169.254.169.254/a", "http://[::1]:9/a", "http://2130706433/"],
)
async def test_private_and_odd_addresses_fail_without_a_connection(address):
    fetcher = InputFetcher(1000, loopback=False)
    try:
        assert await fetcher.fetch(address) is Unfetched.FAILED
    finally:
        await fetcher.close()


async def test_a_body_past_the_cap_is_cut_with_its_declared_length(images):
    fetcher = InputFetcher(1000, loopback=True)
    try:
        fetched = await fetcher.fetch(url(images, "/huge.png"))
    finally:
        await fetcher.close()
    assert fetched == Fetched(fetched.data, len(PNG_HEAD) + 10 * MB) and len(fetched.data) == 1001


async def test_reserved_example_names_are_unreachable_even_online(images, monkeypatch):
    """example.com and the like are never fetched: with a resolver that answers every name (an
    online machine), the page a server there gives is not read."""

    async def everything_is_here(self, host, port=0, family=socket.AF_INET):
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": family,
                "proto": 0,
                "flags": 0,
            }
        ]

    monkeypatch.setattr(inputurls._GuardedResolver, "resolve", everything_is_here)
    fetcher = InputFetcher(1000, loopback=True)
    port = images.make_url("/").port
    try:
        for host in ("example.com", "images.example.org", "cdn.test", "x.invalid"):
            assert await fetcher.fetch(f"http://{host}:{port}/missing.png") is Unfetched.UNREACHABLE
        assert await fetcher.fetch(f"http://example.co:{port}/missing.png") is Unfetched.FAILED
    finally:
        await fetcher.close()
    assert images.hits == {"/missing.png": 1}
