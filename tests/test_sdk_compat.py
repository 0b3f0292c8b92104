"""The official `dashscope` SDK (2.0.2) against the emulator, in the `wanform_emulator` fixture.

Each test calls the SDK exactly as user code calls DashScope and checks that it gets back the same
kinds of objects: ImageGenerationResponse with choices of image messages, ImageSynthesisResponse
with results, task ids, statuses and usage, and result URLs that download to real PNGs of the
reported size.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import io
import os
import re
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import dashscope
import pytest
from dashscope import ImageSynthesis
from dashscope.aigc.image_generation import AioImageGeneration, ImageGeneration
from dashscope.aigc.image_synthesis import AioImageSynthesis
from dashscope.api_entities.dashscope_response import (
    DashScopeAPIResponse,
    ImageGenerationResponse,
    ImageSynthesisResponse,
)
from dashscope.common.error import InvalidTask
from PIL import Image

from wanform.emulator.http.storage import UPLOAD_PATH

# The plugin reaches users through its `pytest11` entry point; importing its fixtures here also runs
# this suite where the package is installed without that entry point.
from wanform.emulator.pytest_plugin import (  # noqa: F401  (fixtures are found by name)
    AdminError,
    EmulatorThread,
    use_emulator,
    wanform_emulator,
    wanform_emulator_config,
    wanform_emulator_server,
)
from wanform.spec.checks import select_mode
from wanform.spec.emulator.wire import FAULTS
from wanform.spec.models import MODELS, SYNC_PATH
from wanform.spec.sizes import output_size

T = TypeVar("T")
PROMPT = "Put the red ball from image 1 on the table"


def png_bytes(width: int, height: int, colour: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def data_uri(width: int, height: int) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(width, height)).decode()


def png_file(tmp_path: Path, name: str, width: int, height: int) -> Path:
    path = tmp_path / name
    path.write_bytes(png_bytes(width, height))
    return path


def download(url: str) -> Image.Image:
    """Fetch a result URL and decode it fully."""
    with urllib.request.urlopen(url, timeout=30) as response:
        image = Image.open(io.BytesIO(response.read()))
        image.load()
    return image


def expected_size(
    model: str, parameters: dict, inputs: list[tuple[int, int]], function: str | None = None
) -> str:
    """The size the spec says the model returns, as `W*H`."""
    spec = MODELS[model]
    mode = select_mode(spec, parameters, len(inputs))
    width, height = output_size(spec, mode, parameters, inputs[-1] if inputs else None, function)
    return f"{width}*{height}"


def generation_images(response: ImageGenerationResponse) -> list[str]:
    """Every image URL in the choices of an ImageGeneration response."""
    return [
        item["image"]
        for choice in response.output.choices
        for item in choice.message.content
        if "image" in item
    ]


def assert_pngs(urls: list[str], size: str) -> None:
    """Each URL downloads to a PNG of `size` (`W*H`)."""
    width, height = map(int, size.split("*"))
    assert [(image.format, image.size) for image in map(download, urls)] == [
        ("PNG", (width, height))
    ] * len(urls)


def messages(*images: str, text: str = PROMPT) -> list[dict]:
    return [{"role": "user", "content": [*({"image": image} for image in images), {"text": text}]}]


@pytest.mark.parametrize(
    ("model", "inputs", "parameters"),
    [
        ("wan2.7-image-pro", [(640, 480)], {"n": 1, "size": "1K"}),
        ("wan2.7-image-pro", [], {"n": 2, "size": "1K"}),
        ("wan2.6-image", [(480, 640), (640, 480)], {"n": 2, "size": "1K"}),
    ],
    ids=["wan2.7-pro-edit", "wan2.7-pro-t2i", "wan2.6-edit"],
)
def test_image_generation_call(wanform_emulator, model, inputs, parameters):
    """A sync ImageGeneration.call returns an ImageGenerationResponse, its images of usage.size."""
    response = ImageGeneration.call(
        model=model, messages=messages(*(data_uri(*i) for i in inputs)), **parameters
    )
    assert isinstance(response, ImageGenerationResponse)
    assert (response.status_code, response.usage["image_count"], response.usage["size"]) == (
        200,
        parameters["n"],
        expected_size(model, parameters, inputs),
    )
    assert (response.output.choices[0].message.role, response.output["finished"]) == (
        "assistant",
        True,
    )
    images = generation_images(response)
    assert len(images) == parameters["n"]
    assert_pngs(images, response.usage["size"])


def test_image_generation_async_call_and_wait(wanform_emulator):
    """async_call returns a PENDING task; wait returns the SUCCEEDED task with its images."""
    created = ImageGeneration.async_call(
        model="wan2.7-image", messages=messages(data_uri(800, 600)), n=1, size="1K"
    )
    assert isinstance(created, ImageGenerationResponse)
    assert (created.status_code, created.output.task_status) == (200, "PENDING")
    done = ImageGeneration.wait(created)
    assert isinstance(done, ImageGenerationResponse)
    assert (done.output.task_id, done.output.task_status, done.usage["image_count"]) == (
        created.output.task_id,
        "SUCCEEDED",
        1,
    )
    assert_pngs(generation_images(done), done.usage["size"])


def test_image_generation_fetch_follows_the_clock(frozen_emulator):
    """fetch sees the task PENDING on the frozen clock, SUCCEEDED once the clock passes its end."""
    created = ImageGeneration.async_call(
        model="wan2.6-image", messages=messages(data_uri(640, 640)), n=1
    )
    first = ImageGeneration.fetch(created.output.task_id)
    frozen_emulator.admin.advance(3600)
    later = ImageGeneration.fetch(created)
    assert isinstance(later, ImageGenerationResponse)
    assert first.output.task_status == "PENDING"
    assert (later.output.task_status, later.output["submit_time"] <= later.output["end_time"]) == (
        "SUCCEEDED",
        True,
    )
    assert_pngs(generation_images(later), later.usage["size"])


def test_unknown_task_reads_as_unknown(wanform_emulator):
    """fetch of a task id the emulator never issued answers 200 with task_status UNKNOWN."""
    response = ImageGeneration.fetch("00000000-0000-0000-0000-000000000000")
    assert (response.status_code, response.output.task_status) == (200, "UNKNOWN")


@pytest.mark.parametrize(
    ("model", "kwargs", "inputs", "parameters"),
    [
        ("wan2.5-i2i-preview", {"images": "two"}, [(640, 480), (480, 640)], {"n": 2}),
        ("wan2.5-i2i-preview", {"images": "one"}, [(800, 600)], {"n": 1, "size": "1024*768"}),
        ("wanx2.1-imageedit", {"function": "description_edit"}, [(640, 512)], {"n": 1}),
        (
            "wanx2.1-imageedit",
            {"function": "super_resolution"},
            [(600, 520)],
            {"n": 1, "upscale_factor": 2},
        ),
    ],
    ids=["wan2.5-two-images", "wan2.5-explicit-size", "wanx2.1-edit", "wanx2.1-super-resolution"],
)
def test_image_synthesis_call(wanform_emulator, model, kwargs, inputs, parameters):
    """ImageSynthesis.call (submit, poll) returns a SUCCEEDED ImageSynthesisResponse of PNGs."""
    uris = [data_uri(*i) for i in inputs]
    if "function" in kwargs:
        call_args = {"function": kwargs["function"], "base_image_url": uris[0]}
    else:
        call_args = {"images": uris}
    response = ImageSynthesis.call(model=model, prompt=PROMPT, **call_args, **parameters)
    assert isinstance(response, ImageSynthesisResponse)
    assert (response.status_code, response.output.task_status, response.usage.image_count) == (
        200,
        "SUCCEEDED",
        parameters["n"],
    )
    assert response.output["task_metrics"] == {
        "TOTAL": parameters["n"],
        "SUCCEEDED": parameters["n"],
        "FAILED": 0,
    }
    assert_pngs(
        [result.url for result in response.output.results],
        expected_size(model, parameters, inputs, kwargs.get("function")),
    )


def test_image_synthesis_call_raises_when_submission_fails(wanform_emulator):
    """A request the service rejects makes ImageSynthesis.call raise InvalidTask, as DashScope."""
    with pytest.raises(InvalidTask, match="InvalidParameter"):
        ImageSynthesis.call(
            model="wan2.5-i2i-preview", prompt=PROMPT, images=[data_uri(640, 480)], n=9
        )


def test_invalid_request_returns_the_error_response(wanform_emulator):
    """A rejected synchronous call comes back as a non-200 response carrying code and message."""
    response = ImageGeneration.call(
        model="wan2.6-image", messages=messages(data_uri(640, 480)), n=9
    )
    assert isinstance(response, ImageGenerationResponse)
    assert (response.status_code, response.code, bool(response.message), response.output) == (
        400,
        "InvalidParameter",
        True,
        None,
    )


def test_local_file_goes_through_the_upload_flow(wanform_emulator, tmp_path):
    """The SDK uploads a file:// image (getPolicy, form upload); the emulator resolves it from oss://."""
    path = png_file(tmp_path, "local input.png", 720, 480)
    parameters = {"n": 1, "size": "1K"}
    response = ImageGeneration.call(
        model="wan2.7-image", messages=messages(path.as_uri()), **parameters
    )
    assert (response.status_code, response.usage["size"]) == (
        200,
        expected_size("wan2.7-image", parameters, [(720, 480)]),
    )
    assert_pngs(generation_images(response), response.usage["size"])
    assert [(e["method"], e["path"], e["status"]) for e in wanform_emulator.admin.requests()][
        :3
    ] == [
        ("GET", "/api/v1/uploads", 200),
        ("POST", UPLOAD_PATH, 200),
        ("POST", "/api/v1" + SYNC_PATH, 200),
    ]


def test_local_path_is_uploaded_for_image_synthesis(wanform_emulator, tmp_path):
    """A plain local path in ImageSynthesis images is uploaded too; the task succeeds from it."""
    first = png_file(tmp_path, "a.png", 640, 480)
    second = png_file(tmp_path, "b.png", 512, 768)
    response = ImageSynthesis.call(
        model="wan2.5-i2i-preview", prompt=PROMPT, images=[str(first), str(second)], n=1
    )
    assert (response.output.task_status, response.usage.image_count) == ("SUCCEEDED", 1)
    assert_pngs(
        [response.output.results[0].url],
        expected_size("wan2.5-i2i-preview", {"n": 1}, [(640, 480), (512, 768)]),
    )


@pytest.fixture(scope="module")
def frozen_server():
    """A second emulator whose clock moves only when the admin API advances it."""
    from wanform.emulator import EmulatorConfig

    server = EmulatorThread(EmulatorConfig(host="127.0.0.1", port=0, speed=0))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def frozen_emulator(frozen_server, monkeypatch):
    """The frozen emulator, reset, with the SDK pointed at it."""
    return use_emulator(frozen_server, monkeypatch)


def submit_imageedit() -> ImageSynthesisResponse:
    return ImageSynthesis.async_call(
        model="wanx2.1-imageedit",
        prompt=PROMPT,
        function="colorization",
        base_image_url=data_uri(640, 512),
        n=1,
    )


def test_cancel_held_task(wanform_emulator):
    """A held model's new task stays PENDING at the plugin's speed, so the SDK can cancel it."""
    with wanform_emulator.admin.held("wanx2.1-imageedit"):
        waiting = submit_imageedit()
        assert ImageSynthesis.fetch(waiting).output.task_status == "PENDING"
        canceled = ImageSynthesis.cancel(waiting)
    # The documented success body is only {"request_id"}; the SDK makes the rest into `output`.
    assert (type(canceled), canceled.status_code, canceled.output, bool(canceled.request_id)) == (
        DashScopeAPIResponse,
        200,
        {},
        True,
    )
    assert ImageSynthesis.fetch(waiting).output.task_status == "CANCELED"


def test_released_task_runs(wanform_emulator):
    """A task held in PENDING runs to SUCCEEDED once its model is released."""
    wanform_emulator.admin.hold("wanx2.1-imageedit")
    task = submit_imageedit()
    assert ImageSynthesis.fetch(task).output.task_status == "PENDING"
    assert wanform_emulator.admin.release("wanx2.1-imageedit") == 1
    assert ImageSynthesis.wait(task).output.task_status == "SUCCEEDED"


def run_sdk(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the async SDK's calls; it leaves its aiohttp sessions open, which is its own affair:
    they are collected here, quietly, before the loop closes."""

    def quiet(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if not str(context.get("message", "")).startswith("Unclosed"):
            loop.default_exception_handler(context)

    loop = asyncio.new_event_loop()
    loop.set_exception_handler(quiet)
    try:
        return loop.run_until_complete(coroutine)
    finally:
        gc.collect()
        loop.close()


def test_async_sdk_synthesis_call_fetch_wait_cancel(wanform_emulator):
    """AioImageSynthesis asks for /tasks/{id}/ and /tasks/{id}/cancel/ (trailing slash)."""
    edit = {
        "model": "wanx2.1-imageedit",
        "prompt": PROMPT,
        "function": "colorization",
        "base_image_url": data_uri(640, 512),
        "n": 1,
    }

    async def held_task() -> tuple:
        created = await AioImageSynthesis.async_call(**edit)
        fetched = await AioImageSynthesis.fetch(created)
        canceled = await AioImageSynthesis.cancel(created)
        return fetched, canceled, await AioImageSynthesis.wait(created)

    with wanform_emulator.admin.held("wanx2.1-imageedit"):
        fetched, canceled, waited = run_sdk(held_task())
    done = run_sdk(AioImageSynthesis.call(**edit))
    assert fetched.output.task_status == "PENDING"
    assert (canceled.status_code, waited.output.task_status) == (200, "CANCELED")
    assert (done.status_code, done.output.task_status, len(done.output.results)) == (
        200,
        "SUCCEEDED",
        1,
    )
    logged = wanform_emulator.admin.requests()
    assert any(e["path"].endswith("/cancel/") for e in logged)
    assert [e["status"] for e in logged if e["status"] != 200] == []


def test_async_sdk_generation_fetch_and_wait(wanform_emulator):
    """AioImageGeneration.fetch and wait read the task through the trailing-slash path."""
    created = ImageGeneration.async_call(
        model="wan2.7-image", messages=messages(data_uri(800, 600)), n=1, size="1K"
    )

    async def calls() -> tuple:
        return await AioImageGeneration.fetch(created), await AioImageGeneration.wait(created)

    fetched, waited = run_sdk(calls())
    assert (fetched.status_code, fetched.output.task_id) == (200, created.output.task_id)
    assert (waited.output.task_status, len(generation_images(waited))) == ("SUCCEEDED", 1)
    assert_pngs(generation_images(waited), waited.usage["size"])


def test_cancel_running_task_is_refused(frozen_emulator):
    """Cancelling a RUNNING task is 400 UnsupportedOperation; the SDK returns it as a response."""
    task = submit_imageedit()
    frozen_emulator.admin.advance(1)
    response = ImageSynthesis.cancel(task)
    assert (response.status_code, response.code, response.message) == (
        400,
        "UnsupportedOperation",
        "Failed to cancel the task, please confirm if the task is in PENDING status.",
    )


def test_cancel_finished_task_is_refused(wanform_emulator):
    """cancel of a SUCCEEDED task is refused the same way."""
    task = submit_imageedit()
    wanform_emulator.admin.advance(3600)
    assert ImageSynthesis.wait(task).output.task_status == "SUCCEEDED"
    assert (ImageSynthesis.cancel(task).status_code, ImageSynthesis.cancel(task).code) == (
        400,
        "UnsupportedOperation",
    )


def test_partial_failure_reaches_the_sdk(wanform_emulator):
    """With one of two images failing the task SUCCEEDS; results carry the failure; usage one."""
    wanform_emulator.admin.add_fault(
        {"action": "partial", "failed": 1, "model": "wan2.5-i2i-preview"}
    )
    response = ImageSynthesis.call(
        model="wan2.5-i2i-preview", prompt=PROMPT, images=[data_uri(640, 480)], n=2
    )
    good, bad = response.output.results
    assert (
        response.output.task_status,
        response.usage.image_count,
        response.output["task_metrics"],
    ) == (
        "SUCCEEDED",
        1,
        {"TOTAL": 2, "SUCCEEDED": 1, "FAILED": 1},
    )
    assert (bool(good.url), bad.url, bad["code"]) == (True, "", "InternalError.Timeout")


def test_failed_task_reaches_the_sdk(wanform_emulator):
    """A task failed by a fault rule ends FAILED with its code and message inside output."""
    wanform_emulator.admin.add_fault(
        {"action": "fail", "code": "DataInspectionFailed", "model": "wanx2.1-imageedit"}
    )
    response = ImageSynthesis.wait(submit_imageedit())
    assert (response.status_code, response.output.task_status, response.output["code"]) == (
        200,
        "FAILED",
        "DataInspectionFailed",
    )


def test_error_fault_reaches_the_sdk(wanform_emulator):
    """An injected HTTP error comes back from ImageGeneration.call as that status and code."""
    wanform_emulator.admin.add_fault(
        {"action": "error", "code": "Arrearage", "model": "wan2.7-image"}
    )
    response = ImageGeneration.call(model="wan2.7-image", messages=messages(), n=1, size="1K")
    assert (response.status_code, response.code) == (400, "Arrearage")
    wanform_emulator.admin.clear_faults()
    assert (
        ImageGeneration.call(model="wan2.7-image", messages=messages(), n=1, size="1K").status_code
        == 200
    )


def test_fixture_points_the_sdk_at_the_emulator(wanform_emulator):
    """The fixture points the environment and the SDK's import-time settings at the emulator."""
    base = wanform_emulator.base_url
    key = wanform_emulator.api_key
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", base)
    assert key.startswith("sk-wanform-test")
    assert (os.environ["DASHSCOPE_HTTP_BASE_URL"], os.environ["DASHSCOPE_API_KEY"]) == (base, key)
    assert (dashscope.base_http_api_url, dashscope.api_key) == (base, key)


def test_settings_are_restored_after_the_test(wanform_emulator_server):
    """Once a test using the emulator ends, the SDK settings and environment are as they were."""

    def settings():
        return (
            dashscope.base_http_api_url,
            dashscope.api_key,
            os.environ.get("DASHSCOPE_HTTP_BASE_URL"),
        )

    before = settings()
    with pytest.MonkeyPatch.context() as patch:
        use_emulator(wanform_emulator_server, patch)
        during = settings()
    assert (settings(), during[0]) == (before, wanform_emulator_server.base_url)


def test_each_test_starts_from_a_reset_emulator(wanform_emulator):
    """admin.reset() forgets tasks: one created before reads as UNKNOWN afterwards."""
    task = submit_imageedit()
    wanform_emulator.admin.reset()
    assert ImageSynthesis.fetch(task).output.task_status == "UNKNOWN"


def test_request_log_lists_the_sdk_requests(wanform_emulator):
    """The request log records each request the SDK made, in order, with its status."""
    task = submit_imageedit()
    ImageSynthesis.fetch(task)
    entries = wanform_emulator.admin.requests()
    assert [(e["method"], e["path"], e["status"], e["task_id"]) for e in entries] == [
        ("POST", "/api/v1/services/aigc/image2image/image-synthesis", 200, task.output.task_id),
        ("GET", f"/api/v1/tasks/{task.output.task_id}", 200, task.output.task_id),
    ]


def test_admin_client_raises_on_a_refused_call(wanform_emulator):
    """A fault rule the emulator refuses raises AdminError naming the status and the reason."""
    with pytest.raises(AdminError, match=rf"POST {FAULTS}: HTTP 400: .*unknown key 'colour'"):
        wanform_emulator.admin.add_fault({"action": "error", "colour": "red"})
