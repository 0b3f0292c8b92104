"""Submission endpoints: what each accepts, and every way a request is refused with DashScope's
status, code and message."""

from __future__ import annotations

import asyncio
import base64

import pytest
from emulator_api import (
    ASYNC,
    GENERATION,
    KEY,
    SYNC,
    SYNTHESIS,
    assert_schema,
    data_uri,
    image_urls,
    wan25,
    wan26,
    wan27,
    wanx21,
)

from wanform.spec.checks import check_request
from wanform.spec.datauri import decode as decode_data_uri
from wanform.spec.imageprobe import probe_bytes


def error(request_id_body: dict) -> tuple[str, str]:
    assert_schema("response-error", request_id_body)
    return request_id_body["code"], request_id_body["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (GENERATION, wan27()),
        (GENERATION, wan26(images=(data_uri(800, 600),))),
        (SYNTHESIS, wan25()),
        (SYNTHESIS, wanx21()),
    ],
    ids=["wan2.7", "wan2.6", "wan2.5", "wanx2.1"],
)
async def test_async_submission_answers_pending(api, path, body):
    """Each async route accepts its models and answers with a PENDING task, as documented."""
    status, answer = await api.call("POST", path, body, headers=ASYNC)
    assert status == 200
    assert_schema("response-task-created", answer)
    assert answer["output"]["task_status"] == "PENDING"


async def test_sync_call_answers_after_the_model_duration(api):
    """The sync route answers once the task has run on the virtual clock, with its result."""
    call = asyncio.ensure_future(api.call("POST", SYNC, wan27(size="1K")))
    await asyncio.sleep(0.05)
    assert not call.done()
    await api.advance(30.05)
    status, answer = await call
    assert status == 200
    assert_schema("response-sync", answer)
    assert answer["usage"]["size"] == "1024*1024"
    assert answer["usage"]["image_count"] == 1


async def test_sdk_is_async_parameter_is_tolerated(api):
    """The official SDK leaks `is_async: true` into parameters; the emulator accepts it."""
    status, _ = await api.call("POST", GENERATION, wan27(is_async=True), headers=ASYNC)
    assert status == 200


@pytest.mark.parametrize(
    ("path", "headers", "body", "expected"),
    [
        (
            GENERATION,
            {},
            wan27(),
            (403, "AccessDenied", "current user api does not support synchronous calls."),
        ),
        (
            SYNTHESIS,
            {},
            wan25(),
            (403, "AccessDenied", "current user api does not support synchronous calls."),
        ),
        (
            SYNC,
            ASYNC,
            wan27(),
            (403, "AccessDenied", "Current user api does not support asynchronous calls."),
        ),
        (SYNC, {}, wan25(), (400, "InvalidParameter", "url error, please check url!")),
        (SYNTHESIS, ASYNC, wan27(), (400, "InvalidParameter", "url error, please check url!")),
        (GENERATION, ASYNC, wanx21(), (400, "InvalidParameter", "url error, please check url!")),
        (
            GENERATION,
            ASYNC,
            {**wan27(), "model": "wan9-image"},
            (400, "InvalidParameter", "Model not exist."),
        ),
        (
            GENERATION,
            ASYNC,
            {"input": wan27()["input"]},
            (400, "BadRequest.EmptyModel", 'Required parameter "model" missing from request.'),
        ),
        (
            GENERATION,
            ASYNC,
            {"model": "wan2.7-image", "parameters": {}},
            (400, "BadRequest.EmptyInput", "Required input parameter missing from request."),
        ),
        (
            GENERATION,
            ASYNC,
            ["not", "an", "object"],
            (400, "BadRequest.IllegalInput", "The input parameter requires json format."),
        ),
        (
            GENERATION,
            ASYNC,
            wan27(images=("ftp://example.com/a.png",)),
            (
                400,
                "InvalidParameter",
                "The provided URL does not appear to be valid. Ensure it is correctly formatted.",
            ),
        ),
    ],
    ids=[
        "async-route-without-header",
        "synthesis-without-header",
        "sync-route-with-async-header",
        "wan2.5-on-sync-route",
        "wan2.7-on-synthesis-route",
        "wanx2.1-on-generation-route",
        "unknown-model",
        "missing-model",
        "missing-input",
        "json-array",
        "bad-url-scheme",
    ],
)
async def test_refused_submissions(api, path, headers, body, expected):
    """Each refusal has DashScope's HTTP status, code and message in the flat error body."""
    status, answer = await api.call("POST", path, body, headers=headers)
    assert (status, *error(answer)) == expected


@pytest.mark.parametrize(
    "body",
    [
        wan27(n=5),
        wan27(size="4K"),
        wan27(color_palette=[{"hex": "#FFFFFF", "ratio": "100.00%"}]),
        wan26(),
        wan25(size="100*100"),
        {**wanx21(), "parameters": {"strength": 3}},
    ],
    ids=[
        "n-range",
        "4k-on-non-pro",
        "short-palette",
        "wan2.6-edit-without-image",
        "wan2.5-size",
        "wanx2.1-strength",
    ],
)
async def test_spec_problems_are_answered_as_the_spec_words_them(api, body):
    """A body the shared checks refuse gets 400 with the first error's api_code and message."""
    first = next(p for p in check_request(body) if p.severity == "error")
    path = SYNTHESIS if body["model"] in ("wan2.5-i2i-preview", "wanx2.1-imageedit") else GENERATION
    status, answer = await api.call("POST", path, body, headers=ASYNC)
    assert (status, *error(answer)) == (400, first.api_code, first.message)


async def test_non_json_body_is_illegal_input(api):
    """A body that is not JSON is 400 BadRequest.IllegalInput."""
    status, answer = await api.call("POST", GENERATION, data=b"model=wan2.7-image", headers=ASYNC)
    assert (status, *error(answer)) == (
        400,
        "BadRequest.IllegalInput",
        "The input parameter requires json format.",
    )


async def test_body_over_the_cap_is_too_large(make_api):
    """A body over max_body_bytes is 400 BadRequest.TooLarge, announced in advance or not."""
    api = await make_api(max_body_bytes=4096)
    big = wan27(prompt="x" * 5000)
    status, answer = await api.call("POST", GENERATION, big, headers=ASYNC)
    assert (status, *error(answer)) == (400, "BadRequest.TooLarge", "Payload Too Large.")

    async def chunks():
        yield b'{"model": "wan2.7-image", "input": "'
        yield b"y" * 8192
        yield b'"}'

    response = await api.client.post(
        GENERATION, data=chunks(), headers={**ASYNC, "Authorization": f"Bearer {KEY}"}
    )
    assert response.status == 400
    assert (await response.json())["code"] == "BadRequest.TooLarge"


async def test_data_uri_over_ten_megabytes_is_refused(api):
    """A data URI over 10485760 decoded bytes gets the documented per-item message."""
    huge = "data:image/png;base64," + base64.b64encode(b"\0" * (10 * 1024 * 1024 + 3)).decode()
    status, answer = await api.call("POST", GENERATION, wan27(images=(huge,)), headers=ASYNC)
    assert (status, *error(answer)) == (
        400,
        "InvalidParameter",
        "Exceeded limit on max bytes per data-uri item : 10485760'.",
    )


async def test_undecodable_image_is_a_validation_error_not_a_crash(api):
    """Bytes that are not an image give 400 InvalidParameter naming the image, never a 500."""
    garbage = "data:image/png;base64," + base64.b64encode(b"not an image at all").decode()
    status, answer = await api.call("POST", GENERATION, wan27(images=(garbage,)), headers=ASYNC)
    assert status == 400
    assert error(answer)[0] == "InvalidParameter"
    assert "not a readable image" in answer["message"]


async def test_outside_urls_are_not_fetched_but_accepted(api):
    """An http(s) image URL elsewhere is not checked (no internet); the task is created."""
    status, _ = await api.call(
        "POST", GENERATION, wan27(images=("https://example.com/car.webp",)), headers=ASYNC
    )
    assert status == 200


async def test_image_too_small_for_the_model_is_refused(api):
    """An input image below the model's side range is refused by the shared spec checks."""
    status, answer = await api.call(
        "POST", GENERATION, wan27(images=(data_uri(200, 300),)), headers=ASYNC
    )
    probe = lambda path, ref: probe_bytes(decode_data_uri(ref)[1])  # noqa: E731
    first = next(
        p
        for p in check_request(wan27(images=(data_uri(200, 300),)), images=probe)
        if p.severity == "error"
    )
    assert (status, *error(answer)) == (400, "InvalidParameter", first.message)
    assert first.path == ("input", "messages", 0, "content", 1, "image")


@pytest.mark.parametrize(
    ("function", "parameters", "size"),
    [
        ("super_resolution", {"upscale_factor": 4}, (16384, 16384)),
        (
            "expand",
            {f"{side}_scale": 2.0 for side in ("top", "bottom", "left", "right")},
            (12288, 12288),
        ),
    ],
    ids=["super-resolution-x4", "expand-x2"],
)
async def test_the_largest_documented_wanx21_outputs_are_served(api, function, parameters, size):
    """A 4096 px base made 4x larger, or expanded by 2.0 on every side (page 002), is served at
    the documented size; the result's size is read from its header only."""
    body = wanx21(**parameters)
    body["input"].update(function=function, base_image_url=data_uri(4096, 4096))
    task_id = await api.submit(body, path=SYNTHESIS)
    await api.advance(60)
    task = await api.task(task_id)
    [url] = image_urls(task)
    status, png = await api.download(url)
    info = probe_bytes(png)
    assert (status, info.format, (info.width, info.height)) == (200, "PNG", size)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "model": "wan2.7-image",
                "input": {
                    "messages": [
                        {"role": "user", "content": [{"text": "a", "image": data_uri(300, 300)}]}
                    ]
                },
                "parameters": {"n": 1},
            },
            "The item of content should be a message of a certain modal.",
        ),
        (
            wan27(images=(data_uri(300, 300).replace("image/png", "image/jpeg"),)),
            "the data URI says image/jpeg but the bytes are PNG",
        ),
        (wanx21(size="1024*1024"), "wanx2.1-imageedit does not take `size`"),
    ],
    ids=["text-and-image-item", "mime-mismatch", "size-on-wanx21"],
)
async def test_the_shared_checks_refuse_what_the_docs_refuse(api, body, message):
    """Issue 10's mismatches 1-3: each is 400 InvalidParameter with the shared check's words."""
    path = SYNTHESIS if body["model"].startswith("wanx") else GENERATION
    status, answer = await api.call("POST", path, body, headers=ASYNC)
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert answer["message"].startswith(message)


@pytest.mark.parametrize("field", ["base_image_url", "mask_image_url"])
async def test_a_url_with_chinese_characters_is_refused(api, field):
    """Page 002: neither wanx2.1 URL may contain Chinese characters."""
    body = wanx21()
    body["input"].update(
        function="description_edit_with_mask",
        base_image_url="https://example.com/base.png",
        mask_image_url="https://example.com/mask.png",
    )
    body["input"][field] = "https://example.com/图片.png"
    status, answer = await api.call("POST", SYNTHESIS, body, headers=ASYNC)
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert "Chinese characters" in answer["message"]
