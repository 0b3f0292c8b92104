"""The input store's byte cap: files no task needs go first, the store never passes the cap, and
no result is ever drawn without its input (a download answers 404 instead)."""

from __future__ import annotations

import hashlib
import os

import pytest
from emulator_api import ASYNC, GENERATION, Api, image_urls, png, wan27
from test_emulator_inputs import result, store, task, uri

from wanform.emulator.images.draw import Input, draw_png
from wanform.emulator.images.inputstore import InputGone, InputStore
from wanform.emulator.images.painter import decode_input

RUN = 31  # virtual seconds for a wan2.7 task to end
JPEG = png(700, 500, "JPEG")
# distinct inputs of one size: the same JPEG with a comment segment (COM) naming each
IMAGES = [JPEG[:2] + b"\xff\xfe\x00\x06" + f"{i:04d}".encode() + JPEG[2:] for i in range(12)]
CAP = 3 * len(IMAGES[0])  # room for three of them


@pytest.fixture
async def capped(make_api) -> Api:
    return await make_api(throttle=False, input_store_bytes=CAP)


def disk_bytes(api: Api) -> int:
    directory = store(api).directory
    assert directory is not None
    return sum(entry.stat().st_size for entry in os.scandir(directory))


def expected(api: Api, task_id: str, image: bytes) -> bytes:
    """The first result of the task, drawn from `image` as the emulator should."""
    brief = task(api, task_id).brief
    base, _ = decode_input(image, (brief.width, brief.height))
    return draw_png(
        brief.width, brief.height, brief.seed, brief.prompt, [Input(base)], brief.palette, 0
    )


async def submit(api: Api, image: bytes, prompt: str = "a red bicycle") -> str:
    return await api.submit(wan27(prompt, images=(uri(image),), size="1K"))


async def test_many_distinct_inputs_stay_under_the_cap_and_render_right(capped):
    """Task after task with an input of its own, each downloaded once ended: the input directory
    never passes the cap, and every result is drawn from its own input."""
    for image in IMAGES:
        task_id = await submit(capped, image)
        assert disk_bytes(capped) <= CAP
        await capped.advance(RUN)
        assert await result(capped, task_id) == expected(capped, task_id, image)
    assert len(os.listdir(store(capped).directory or "")) <= 3


async def test_inputs_still_needed_outlive_those_already_drawn(capped):
    """Over the cap, the inputs of tasks that drew all their images go before those of tasks
    whose results are not downloaded yet, oldest first."""
    waiting = await submit(capped, IMAGES[0])
    await capped.advance(RUN)
    for image in IMAGES[1:6]:
        drawn = await submit(capped, image)
        await capped.advance(RUN)
        await result(capped, drawn)
    assert await result(capped, waiting) == expected(capped, waiting, IMAGES[0])


async def test_an_evicted_input_is_refused_not_drawn_wrong(capped):
    """When even needed inputs must go, the download of their results answers 404 NoSuchKey
    saying why; sending the same bytes again brings the input, and the results, back."""
    first = await submit(capped, IMAGES[0])
    for image in IMAGES[1:5]:
        await submit(capped, image)
    await capped.advance(RUN)
    assert disk_bytes(capped) <= CAP
    status, body = await capped.download(image_urls(await capped.task(first))[0])
    assert status == 404
    assert b"<Code>NoSuchKey</Code>" in body and b"input store" in body
    await submit(capped, IMAGES[0], "the same input again")
    assert await result(capped, first) == expected(capped, first, IMAGES[0])


async def test_a_failed_or_canceled_task_needs_no_input(make_api):
    """The inputs of a FAILED and a canceled task go before that of a task still running."""
    api = await make_api(throttle=False, input_store_bytes=CAP)
    await api.add_fault({"action": "fail", "prompt": "doomed", "code": "InternalError"})
    running = await submit(api, IMAGES[0])
    await submit(api, IMAGES[1], "doomed")
    canceled = await submit(api, IMAGES[2])
    status, _ = await api.call("POST", f"/api/v1/tasks/{canceled}/cancel")
    assert status == 200
    await submit(api, IMAGES[3])
    await submit(api, IMAGES[4])
    names = set(os.listdir(store(api).directory or ""))
    assert hashlib.sha256(IMAGES[0]).hexdigest() in names
    assert not {hashlib.sha256(i).hexdigest() for i in IMAGES[1:3]} & names
    await api.advance(RUN)
    assert await result(api, running) == expected(api, running, IMAGES[0])


async def test_an_input_larger_than_the_whole_store_is_refused(make_api):
    """A request whose input alone passes the cap gets 400 InvalidParameter naming the cap."""
    api = await make_api(input_store_bytes=len(IMAGES[0]) - 1)
    status, answer = await api.call(
        "POST", GENERATION, wan27(images=(uri(IMAGES[0]),)), headers=ASYNC
    )
    assert status == 400
    assert answer["code"] == "InvalidParameter" and "input store" in answer["message"]
    assert os.listdir(store(api).directory or "") == []


async def test_a_refused_second_input_releases_the_first(make_api):
    """Of two inputs, the first fits the store and the second does not: 400, and the first is
    not left behind."""
    api = await make_api(input_store_bytes=len(IMAGES[0]))
    body = wan27(images=(uri(IMAGES[0]), uri(IMAGES[1] + b"past the cap")))
    status, answer = await api.call("POST", GENERATION, body, headers=ASYNC)
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert os.listdir(store(api).directory or "") == [] and store(api).size == 0


def test_the_store_counts_bytes_and_forgets_evicted_files(tmp_path):
    """Unit: files past the cap go least recently used first among the settled; a read of an
    evicted one raises InputGone; putting its bytes again restores it."""
    inputs = InputStore(CAP)
    inputs.open()
    try:
        handles = [inputs.put(image) for image in IMAGES[:3]]
        inputs.settle(handles[1])
        inputs.put(IMAGES[3])
        assert inputs.size == CAP
        with pytest.raises(InputGone):
            handles[1].read()
        assert handles[0].read() == IMAGES[0]
        inputs.put(IMAGES[1])  # needed again: the oldest still needed goes instead
        assert handles[1].read() == IMAGES[1]
        with pytest.raises(InputGone):
            handles[0].read()
    finally:
        inputs.close()
