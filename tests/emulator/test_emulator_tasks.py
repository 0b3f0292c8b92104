"""The task lifecycle on the virtual clock, both body styles, cancel, expiry and the task list."""

from __future__ import annotations

import asyncio
import base64
import io
import re
from datetime import datetime, timedelta, timezone

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
    png,
    wan25,
    wan26,
    wan27,
    wanx21,
)
from PIL import Image

from wanform.emulator.images.draw import BOX_COLOUR
from wanform.spec.checks import select_mode
from wanform.spec.emulator.wire import CLOCK
from wanform.spec.models import MODELS, table
from wanform.spec.sizes import output_size

TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")
DAY = 24 * 3600
PICKUP = 0.05  # EmulatorConfig.pending_seconds


def parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f")


async def test_lifecycle_pending_running_succeeded(api):
    """A task is PENDING, RUNNING, then SUCCEEDED after the model's duration, with its times."""
    task_id = await api.submit(wan27())
    pending = await api.task(task_id)
    assert pending["output"].keys() == {"task_id", "task_status", "submit_time"}
    await api.advance(PICKUP)
    running = await api.task(task_id)
    assert running["output"]["task_status"] == "RUNNING"
    assert TIME.match(running["output"]["scheduled_time"])
    await api.advance(MODELS["wan2.7-image"].typical_seconds)
    done = await api.task(task_id)
    assert_schema("response-task", done)
    output = done["output"]
    assert output["task_status"] == "SUCCEEDED" and output["finished"] is True
    ran = parse(output["end_time"]) - parse(output["scheduled_time"])
    assert ran == timedelta(seconds=MODELS["wan2.7-image"].typical_seconds)
    assert done["usage"]["image_count"] == 1 and done["usage"]["size"] == "2048*2048"


async def test_task_times_are_utc_plus_8(api):
    """submit_time is the virtual clock's time in UTC+8."""
    _, clock = await api.call("GET", CLOCK, key=None)
    task_id = await api.submit(wan27())
    submitted = parse((await api.task(task_id))["output"]["submit_time"]).replace(
        tzinfo=timezone(timedelta(hours=8))
    )
    assert abs(submitted.timestamp() - clock["now"]) < 0.002


@pytest.mark.parametrize("model", sorted(MODELS))
async def test_each_model_runs_for_its_typical_duration(api, model):
    """A task stays RUNNING until exactly the model's typical_seconds have passed on the clock."""
    body = {
        "wan2.7-image-pro": wan27(),
        "wan2.7-image": wan27(),
        "wan2.6-image": wan26(images=(data_uri(800, 600),)),
        "wan2.5-i2i-preview": wan25(),
        "wanx2.1-imageedit": wanx21(),
    }[model]
    body["model"] = model
    task_id = await api.submit(
        body, path=SYNTHESIS if MODELS[model].family != "messages" else GENERATION
    )
    await api.advance(PICKUP + MODELS[model].typical_seconds - 0.01)
    assert await api.status(task_id) == "RUNNING"
    await api.advance(0.01)
    assert await api.status(task_id) == "SUCCEEDED"


async def test_results_style_body_for_wan25(api):
    """wan2.5 results carry url, orig_prompt, actual_prompt (with prompt_extend), task_metrics."""
    extended = await api.submit(wan25(n=2), path=SYNTHESIS)
    plain = await api.submit(wan25(prompt_extend=False), path=SYNTHESIS)
    await api.advance(60)
    body = await api.task(extended)
    assert_schema("response-task", body)
    results = body["output"]["results"]
    assert [sorted(r) for r in results] == [["actual_prompt", "orig_prompt", "url"]] * 2
    assert results[0]["orig_prompt"] == "put the clock by the vase"
    assert body["output"]["task_metrics"] == {"TOTAL": 2, "SUCCEEDED": 2, "FAILED": 0}
    assert body["usage"] == {"image_count": 2}
    assert sorted((await api.task(plain))["output"]["results"][0]) == ["orig_prompt", "url"]


async def test_results_style_body_for_wanx21_while_running_and_after(api):
    """wanx2.1 reports task_metrics in every state and plain {url} results."""
    task_id = await api.submit(wanx21(), path=SYNTHESIS)
    running = await api.task(task_id)
    assert running["output"]["task_metrics"] == {"TOTAL": 1, "SUCCEEDED": 0, "FAILED": 0}
    await api.advance(20)
    done = await api.task(task_id)
    assert [sorted(r) for r in done["output"]["results"]] == [["url"]]


async def test_output_follows_the_last_input_image(api):
    """The output keeps the last input's aspect ratio at the tier's area; the PNG has that size."""
    task_id = await api.submit(wan27(images=(data_uri(600, 600), data_uri(1000, 500)), size="1K"))
    await api.advance(31)
    body = await api.task(task_id)
    width, height = map(int, body["usage"]["size"].split("*"))
    spec = MODELS["wan2.7-image"]
    assert (width, height) == output_size(
        spec, select_mode(spec, {"size": "1K"}, 2), {"size": "1K"}, (1000, 500)
    )
    assert 1.95 < width / height < 2.05
    status, data = await api.download(image_urls(body)[0])
    assert status == 200
    assert Image.open(io.BytesIO(data)).size == (width, height)


async def test_image_counts_per_style(api):
    """n choices in edit mode, one choice of n images for a set, one alternating for interleave."""
    choices = await api.submit(wan27(n=2, size="1K"))
    image_set = await api.submit(wan27(n=3, enable_sequential=True, size="1K"))
    interleave = await api.submit(wan26(enable_interleave=True, max_images=2, n=1))
    await api.advance(61)
    assert [
        len(c["message"]["content"]) for c in (await api.task(choices))["output"]["choices"]
    ] == [1, 1]
    assert [
        len(c["message"]["content"]) for c in (await api.task(image_set))["output"]["choices"]
    ] == [3]
    content = (await api.task(interleave))["output"]["choices"][0]["message"]["content"]
    assert [c["type"] for c in content] == ["text", "image", "text", "image"]


async def test_sync_interleave_streams_server_sent_events(make_api):
    """wan2.6 interleave on the sync route streams text and image chunks; the last one says stop."""
    api = await make_api(models=table({"sets.count": "exact"}))
    body = wan26(enable_interleave=True, max_images=2, stream=True)
    call = asyncio.ensure_future(
        api.client.post(
            SYNC, json=body, headers={"Authorization": f"Bearer {KEY}", "X-DashScope-Sse": "enable"}
        )
    )
    await asyncio.sleep(0.05)
    await api.advance(61)
    response = await call
    assert response.headers["Content-Type"].startswith("text/event-stream")
    text = await response.text()
    events = [block.split("\n") for block in text.strip().split("\n\n")]
    assert [e[:3] for e in events][0] == ["id:1", "event:result", ":HTTP_STATUS/200"]
    finish = [re.search(r'"finish_reason":"(\w+)"', e[3]).group(1) for e in events]
    assert finish == ["null", "null", "null", "stop"]
    assert '"size":"0*0"' in events[0][3]


async def test_sync_interleave_without_streaming_is_refused(api):
    """Interleaved output on the sync route needs streaming."""
    status, answer = await api.call("POST", SYNC, wan26(enable_interleave=True))
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert "X-DashScope-SSE: enable" in answer["message"]


async def test_cancel_only_while_pending(api):
    """Cancel works on a PENDING task (then CANCELED), not on RUNNING, finished or unknown ones."""
    pending = await api.submit(wan27())
    status, answer = await api.call("POST", f"/api/v1/tasks/{pending}/cancel")
    assert status == 200
    assert_schema("response-cancel", answer)
    canceled = await api.task(pending)
    assert canceled["output"]["task_status"] == "CANCELED" and "end_time" in canceled["output"]
    running = await api.submit(wan27())
    await api.advance(PICKUP)
    refused = (
        400,
        "UnsupportedOperation",
        "Failed to cancel the task, please confirm if the task is in PENDING status.",
    )
    for task_id in (running, pending, "no-such-task"):
        status, answer = await api.call("POST", f"/api/v1/tasks/{task_id}/cancel")
        assert (status, answer["code"], answer["message"]) == refused
    await api.advance(40)
    status, _ = await api.call("POST", f"/api/v1/tasks/{running}/cancel")
    assert status == 400


async def test_unknown_task_reads_unknown(api):
    """A task id that never existed reads UNKNOWN with HTTP 200."""
    body = await api.task("86ecf553-d340-4e21-af6e-000000000000")
    assert_schema("response-task", body)
    assert body["output"] == {
        "task_id": "86ecf553-d340-4e21-af6e-000000000000",
        "task_status": "UNKNOWN",
    }


async def test_tasks_and_result_urls_expire_after_24_hours(api):
    """24 virtual hours after submission a task reads UNKNOWN; 24 h after its end its URL is 403."""
    task_id = await api.submit(wan27(size="1K"))
    await api.advance(31)
    url = image_urls(await api.task(task_id))[0]
    assert (await api.download(url))[0] == 200
    await api.advance(DAY - 31)
    assert await api.status(task_id) == "UNKNOWN"
    assert (await api.download(url))[0] == 200
    await api.advance(31)
    status, body = await api.download(url)
    assert (
        status == 403 and b"<Code>AccessDenied</Code>" in body and b"Request has expired." in body
    )


async def test_result_urls_refuse_tampering_and_unknown_files(api):
    """A changed Expires or Signature is 403 SignatureDoesNotMatch, an unknown file 404."""
    task_id = await api.submit(wan27(size="1K"))
    await api.advance(31)
    url = image_urls(await api.task(task_id))[0]
    expires = re.search(r"Expires=(\d+)", url).group(1)
    status, body = await api.download(
        url.replace(f"Expires={expires}", f"Expires={int(expires) + 1}")
    )
    assert status == 403 and b"SignatureDoesNotMatch" in body
    status, body = await api.download(re.sub(r"/__results/\w+\.png", "/__results/00.png", url))
    assert status == 404 and b"NoSuchKey" in body


async def test_list_filters_and_pages(api):
    """GET /tasks filters by model, status and task id, pages newest first, answers on /tasks/."""
    first = await api.submit(wan27())
    second = await api.submit(wan25(), path=SYNTHESIS)
    third = await api.submit(wan27())
    await api.call("POST", f"/api/v1/tasks/{third}/cancel")
    _, everything = await api.call("GET", "/api/v1/tasks/")
    assert_schema("response-task-list", everything)
    assert [e["task_id"] for e in everything["data"]] == [third, second, first]
    queries = {
        "model_name=wan2.7-image": [third, first],
        "status=CANCELED": [third],
        f"task_id={second}": [second],
        "page_size=2&page_no=2": [first],
        "status=SUCCEEDED": [],
    }
    for query, expected in queries.items():
        _, page = await api.call("GET", f"/api/v1/tasks?{query}")
        assert [e["task_id"] for e in page["data"]] == expected, query
    _, paged = await api.call("GET", "/api/v1/tasks?page_size=2")
    assert (paged["total"], paged["total_page"], paged["page_no"], paged["page_size"]) == (
        3,
        2,
        1,
        2,
    )


async def test_list_entries_carry_epoch_milliseconds(api):
    """List entries report gmt_create/start_time/end_time in epoch ms; end_time only once ended."""
    task_id = await api.submit(wan25(), path=SYNTHESIS)
    await api.advance(PICKUP)
    _, running = await api.call("GET", "/api/v1/tasks")
    entry = running["data"][0]
    assert entry["start_time"] - entry["gmt_create"] == 50 and "end_time" not in entry
    assert (
        entry["user_api_unique_key"]
        == "apikey:v1:aigc:image2image:image-synthesis:wan2.5-i2i-preview"
    )
    await api.advance(45)
    _, done = await api.call("GET", "/api/v1/tasks")
    assert done["data"][0]["end_time"] - done["data"][0]["start_time"] == 45000
    assert done["data"][0]["task_id"] == task_id


async def test_list_time_window(api):
    """start_time/end_time (YYYYMMDDhhmmss, UTC+8) select by creation time; over 24 h is refused."""
    await api.submit(wan27())
    _, clock = await api.call("GET", CLOCK, key=None)
    now = datetime.fromtimestamp(clock["now"], timezone(timedelta(hours=8)))
    stamp = lambda moment: moment.strftime("%Y%m%d%H%M%S")  # noqa: E731
    _, inside = await api.call(
        "GET", f"/api/v1/tasks?start_time={stamp(now - timedelta(hours=1))}&end_time={stamp(now)}"
    )
    _, before = await api.call("GET", f"/api/v1/tasks?end_time={stamp(now - timedelta(hours=1))}")
    assert (inside["total"], before["total"]) == (1, 0)
    status, answer = await api.call(
        "GET", f"/api/v1/tasks?start_time={stamp(now - timedelta(hours=25))}&end_time={stamp(now)}"
    )
    assert (status, answer["code"]) == (400, "InvalidParameter")


@pytest.mark.parametrize(
    "query", ["page_no=0", "page_size=x", "status=DONE", "start_time=2025-01-01"]
)
async def test_list_refuses_malformed_queries(api, query):
    """Malformed list parameters are 400 InvalidParameter."""
    status, answer = await api.call("GET", f"/api/v1/tasks?{query}")
    assert (status, answer["code"]) == (400, "InvalidParameter")


async def test_speed_scales_the_clock(make_api):
    """At speed 1000 a 30-second task finishes within a few real milliseconds' wait."""
    api = await make_api(speed=1000)
    task_id = await api.submit(wan27())
    await asyncio.sleep(0.05)
    assert await api.status(task_id) == "SUCCEEDED"


async def test_sync_call_with_async_header_never_creates_a_task(api):
    """A refused sync call leaves no task behind."""
    await api.call("POST", SYNC, wan27(), headers=ASYNC)
    _, listed = await api.call("GET", "/api/v1/tasks")
    assert listed["total"] == 0


async def test_boxes_are_drawn_where_they_are_on_a_large_jpeg_input(api):
    """A JPEG input decoded at reduced scale still gets its boxes in the right place."""
    jpeg = "data:image/jpeg;base64," + base64.b64encode(png(4000, 2000, "JPEG")).decode()
    task_id = await api.submit(
        wan27(images=(jpeg,), size="1K", bbox_list=[[[400, 400, 3600, 1600]]])
    )
    await api.advance(31)
    body = await api.task(task_id)
    result = Image.open(io.BytesIO((await api.download(image_urls(body)[0]))[1])).convert("RGB")
    width, height = result.size
    scale = min(width / 4000, height / 2000)  # the input is fitted inside the output, centred
    left_edge = ((width - round(4000 * scale)) // 2 + round(400 * scale), height // 2)
    assert result.getpixel(left_edge) == BOX_COLOUR
    assert result.getpixel((left_edge[0] - 8, height // 2)) != BOX_COLOUR
