"""Guessed answers (spec/guesses.yaml): each follows the table's choice and names itself in
`X-Wanform-Unverified` on the submission, on every query of its task, and in the request log."""

from __future__ import annotations

import base64
import io
import json
import os

from emulator_api import ASYNC, GENERATION, KEY, SYNC, SYNTHESIS, data_uri, wan26, wan27, wanx21
from PIL import Image

from wanform.spec.emulator.wire import HOLD, RELEASE, UNVERIFIED_HEADER
from wanform.spec.models import table

AUTH = {"Authorization": f"Bearer {KEY}"}


async def post(api, body: dict, path: str = GENERATION, headers: dict | None = None):
    sent = {**ASYNC, **AUTH, "Content-Type": "application/json", **(headers or {})}
    data = io.BytesIO(json.dumps(body).encode())  # aiohttp warns about large raw bodies
    response = await api.client.post(path, data=data, headers=sent)
    return response, await response.json()


def marks(response) -> list[str]:
    return [g for g in response.headers.get(UNVERIFIED_HEADER, "").split(",") if g]


async def test_a_guessed_default_is_named_on_the_submission_every_query_and_the_request_log(api):
    body = wan27()
    del body["parameters"]["n"]  # wan2.7's default n is a guess
    response, created = await post(api, body)
    task_id = created["output"]["task_id"]
    assert marks(response) == ["wan2.7.n_default"]
    await api.advance(60)
    for path in (f"/api/v1/tasks/{task_id}", f"/api/v1/tasks/{task_id}/"):
        query = await api.client.get(path, headers=AUTH)
        assert (query.status, marks(query)) == (200, ["wan2.7.n_default"])
        assert (await query.json())["usage"]["image_count"] == 4
    assert [e["unverified"] for e in await api.requests()] == [["wan2.7.n_default"]] * 3


async def test_an_answer_on_documented_rules_only_has_no_header(api):
    response, created = await post(api, wan27())  # n given: nothing guessed
    await api.advance(60)  # a PENDING body's times are a guess (task.pending_body); a result's not
    query = await api.client.get(f"/api/v1/tasks/{created['output']['task_id']}", headers=AUTH)
    assert UNVERIFIED_HEADER not in response.headers and UNVERIFIED_HEADER not in query.headers


async def test_the_default_n_follows_the_variant(make_api):
    api = await make_api(models=table({"wan2.7.n_default": "1"}))
    body = wan27()
    del body["parameters"]["n"]
    _, created = await post(api, body)
    await api.advance(60)
    assert (await api.task(created["output"]["task_id"]))["usage"]["image_count"] == 1


async def test_image_sets_make_up_to_n_decided_by_the_seed(make_api):
    """Some seeds make fewer than n; the same request makes the same count again."""

    async def counts(api) -> list[int]:
        made = []
        for seed in range(12):
            response, created = await post(api, wan27(enable_sequential=True, n=6, seed=seed))
            assert "sets.count" in marks(response)
            await api.advance(60)
            made.append((await api.task(created["output"]["task_id"]))["usage"]["image_count"])
        return made

    first = await counts(await make_api(throttle=False))
    assert first == await counts(await make_api(throttle=False))
    assert min(first) < 6 and max(first) == 6 and min(first) >= 1
    exact = await make_api(throttle=False, models=table({"sets.count": "exact"}))
    assert await counts(exact) == [6] * 12


async def test_a_refusal_by_a_guessed_rule_names_it(api):
    response, answer = await post(api, wan27(prompt_extend=True))
    assert (response.status, answer["code"]) == (400, "InvalidParameter")
    assert marks(response) == ["wan2.7.unsupported_params", "errors.wording"]


async def test_an_ignored_parameter_is_accepted_and_marked(make_api):
    api = await make_api(models=table({"wan2.7.unsupported_params": "ignore"}))
    response, _ = await post(api, wan27(negative_prompt="blur"))
    assert (response.status, marks(response)) == (200, ["wan2.7.unsupported_params"])


async def test_cancel_of_an_unknown_task(api, make_api):
    response = await api.client.post("/api/v1/tasks/no-such-task/cancel", headers=AUTH)
    assert (response.status, (await response.json())["code"]) == (400, "UnsupportedOperation")
    assert marks(response) == ["cancel.unknown_task"]
    lenient = await make_api(models=table({"cancel.unknown_task": "ok"}))
    response = await lenient.client.post("/api/v1/tasks/no-such-task/cancel/", headers=AUTH)
    assert (response.status, marks(response)) == (200, ["cancel.unknown_task"])


async def test_canceled_body_follows_the_table(make_api):
    for value, keys in (
        ("times", {"task_id", "task_status", "submit_time", "end_time"}),
        ("bare", {"task_id", "task_status"}),
    ):
        api = await make_api(models=table({"task.canceled_body": value}))
        await api.call("POST", HOLD, {"model": "wan2.7-image"}, key=None)
        _, created = await post(api, wan27())
        task_id = created["output"]["task_id"]
        assert (await api.call("POST", f"/api/v1/tasks/{task_id}/cancel"))[0] == 200
        query = await api.client.get(f"/api/v1/tasks/{task_id}", headers=AUTH)
        assert set((await query.json())["output"]) == keys
        assert marks(query) == ["task.canceled_body"]


async def test_messages_partial_failure_follows_the_table(make_api):
    rule = {"action": "partial", "model": "wan2.7-image", "failed": 1}
    for value, status in (("drop", "SUCCEEDED"), ("fail", "FAILED")):
        api = await make_api(models=table({"messages.partial_failure": value}), rules=(rule,))
        response, created = await post(api, wan27(n=3))
        assert marks(response) == ["messages.partial_failure"]
        await api.advance(60)
        assert await api.status(created["output"]["task_id"]) == status


async def test_the_over_cap_answer_is_marked_on_the_queued_task(make_api):
    api = await make_api(models=table({"service.over_cap": "queue"}))
    for _ in range(2):
        await api.submit(wanx21(), path=SYNTHESIS)
    await api.advance(1)
    response, created = await post(api, wanx21(), path=SYNTHESIS)
    query = await api.client.get(f"/api/v1/tasks/{created['output']['task_id']}", headers=AUTH)
    assert marks(response) == ["service.over_cap", "wanx2.1.output_size"]
    assert marks(query) == [*marks(response), "task.pending_body"]


async def sse(api, body: dict, headers: dict) -> tuple:
    response = await api.client.post(SYNC, json=body, headers={**AUTH, **headers})
    return response, await response.text()


async def test_stream_parameter_alone_does_not_stream_by_default(make_api):
    body = wan26(images=(data_uri(640, 640),), stream=True)
    api = await make_api(speed=1000.0)
    response, text = await sse(api, body, {})
    assert response.content_type == "application/json" and "choices" in text
    assert marks(response) == ["sse.stream_param"]
    either = await make_api(speed=1000.0, models=table({"sse.stream_param": "either"}))
    response, text = await sse(either, body, {})
    assert response.content_type == "text/event-stream"
    assert marks(response) == ["sse.stream_param", "sse.framing"]


async def test_sse_framing_follows_the_table(make_api):
    body = wan26(images=(data_uri(640, 640),))
    for value, line in (("comment", ":HTTP_STATUS/200"), ("status", "status:200")):
        api = await make_api(speed=1000.0, models=table({"sse.framing": value}))
        response, text = await sse(api, body, {"X-DashScope-Sse": "enable"})
        assert text.split("\n")[2] == line
        assert marks(response) == ["sse.framing"]


def noise_png_uri(width: int, height: int) -> str:
    """A PNG of random pixels, stored without compression: about 3 bytes a pixel."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(
        buffer, "PNG", compress_level=0
    )
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def test_wan27_data_uris_over_10_mb_follow_the_table(make_api):
    body = wan27(images=(noise_png_uri(2000, 2000),))  # 12 MB: over 10 MB, under 20 MB
    response, answer = await post(await make_api(throttle=False), body)
    assert (response.status, answer["message"]) == (
        400,
        "Exceeded limit on max bytes per data-uri item : 10485760'.",
    )
    assert marks(response) == ["wan2.7.data_uri_max"]
    wide = await make_api(throttle=False, models=table({"wan2.7.data_uri_max": "20MB"}))
    response, _ = await post(wide, body)
    assert (response.status, marks(response)) == (200, ["wan2.7.data_uri_max"])


async def test_a_held_model_keeps_new_tasks_pending_until_released(api):
    await api.call("POST", HOLD, {"model": "wanx2.1-imageedit"}, key=None)
    task_id = await api.submit(wanx21(), path=SYNTHESIS)
    other = await api.submit(wan27())
    await api.advance(3600)
    assert [await api.status(task_id), await api.status(other)] == ["PENDING", "SUCCEEDED"]
    status, answer = await api.call("POST", RELEASE, {"model": "wanx2.1-imageedit"}, key=None)
    assert (status, answer) == (200, {"released": 1})
    await api.advance(60)
    assert await api.status(task_id) == "SUCCEEDED"


async def test_a_wan26_answer_that_rests_on_its_limits_names_them(api):
    """A 2K size and a 300-px input are accepted only by the newer pages' wan2.6 limits: the
    answer names wan2.6.limits; a request both versions accept does not."""
    for body in (
        wan26(images=(data_uri(512, 512),), size="2K"),
        wan26(images=(data_uri(300, 300),)),
    ):
        response, _ = await post(api, body)
        assert (response.status, marks(response)) == (200, ["wan2.6.limits"])
    response, _ = await post(api, wan26(images=(data_uri(512, 512),), size="1024*1024"))
    assert (response.status, marks(response)) == (200, [])


async def test_a_wan26_refusal_under_the_older_limits_names_them(make_api):
    """With wan2.6.limits=2025 a 300-px input is refused, and the refusal names the guess."""
    api = await make_api(models=table({"wan2.6.limits": "2025"}))
    response, answer = await post(api, wan26(images=(data_uri(300, 300),)))
    assert (response.status, answer["code"], marks(response)) == (
        400,
        "InvalidParameter",
        ["wan2.6.limits", "errors.wording"],
    )
