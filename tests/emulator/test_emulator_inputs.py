"""Input images wait on disk, not in memory: one file per distinct input, held by the tasks that
sent it, gone with the last of them, with a reset and with the application; results unchanged.
The store's cap is tested in test_emulator_input_cap.py."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import signal
import subprocess
from pathlib import Path

import pytest
from emulator_api import ASYNC, GENERATION, KEY, Api, emulator_command, image_urls, png, wan27

from wanform.emulator import EmulatorConfig, start
from wanform.emulator.http.context import EMULATOR
from wanform.emulator.images.draw import Input, draw_png
from wanform.emulator.images.inputstore import DIRECTORY_PREFIX, InputStore, StoredInput
from wanform.emulator.images.painter import decode_input, paint
from wanform.emulator.state.tasks import Task
from wanform.spec.emulator.wire import RESET
from wanform.spec.models import RESULT_TTL_SECONDS

DAY = RESULT_TTL_SECONDS
IMAGE = png(800, 600, "JPEG")
OTHER_IMAGE = png(801, 600, "JPEG")


def uri(image: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(image).decode()


def store(api: Api) -> InputStore:
    return api.client.app[EMULATOR].inputs


def stored(api: Api) -> list[str]:
    """The names of the files in the emulator's input directory."""
    directory = store(api).directory
    assert directory is not None
    return sorted(os.listdir(directory))


def task(api: Api, task_id: str) -> Task:
    found = api.client.app[EMULATOR].tasks.find(task_id)
    assert found is not None
    return found


async def result(api: Api, task_id: str) -> bytes:
    """The first result image of a task that has ended."""
    status, data = await api.download(image_urls(await api.task(task_id))[0])
    assert status == 200
    return data


async def test_a_task_holds_a_handle_to_its_input_not_its_bytes(api):
    """The brief keeps a digest and a store; the bytes are in a file named by their sha256."""
    (base,) = task(api, await api.submit(wan27(images=(uri(IMAGE),)))).brief.inputs
    assert isinstance(base, StoredInput)
    assert not [f for f in dataclasses.fields(base) if isinstance(getattr(base, f.name), bytes)]
    assert stored(api) == [hashlib.sha256(IMAGE).hexdigest()]
    assert base.read() == IMAGE


async def test_a_text_only_task_stores_nothing(api):
    """Without an input image there is no handle and no file."""
    assert task(api, await api.submit(wan27())).brief.stored == ()
    assert stored(api) == []


async def test_identical_inputs_are_stored_once(api):
    """Two tasks sending the same bytes share one file and one handle; other bytes get their own."""
    first = task(api, await api.submit(wan27(images=(uri(IMAGE),))))
    second = task(api, await api.submit(wan27("another prompt", images=(uri(IMAGE),))))
    assert first.brief.inputs[0] is second.brief.inputs[0]
    assert len(stored(api)) == 1
    await api.submit(wan27(images=(uri(OTHER_IMAGE),)))
    assert len(stored(api)) == 2


async def test_the_file_goes_with_the_last_task_holding_it(api):
    """An expired task releases its input; the file stays while another task still holds it."""
    await api.submit(wan27(images=(uri(IMAGE),)))
    await api.advance(DAY / 2)
    await api.submit(wan27("later", images=(uri(IMAGE),)))
    await api.advance(DAY / 2 + 3600)
    await api.submit(wan27("purges the first"))
    assert stored(api) == [hashlib.sha256(IMAGE).hexdigest()]
    await api.advance(DAY / 2)
    await api.submit(wan27("purges the second"))
    assert stored(api) == []


async def test_reset_deletes_the_input_files(api):
    """The admin reset forgets the tasks and with them their input files."""
    await api.submit(wan27(images=(uri(IMAGE),)))
    await api.submit(wan27(images=(uri(OTHER_IMAGE),)))
    status, _ = await api.call("POST", RESET, key=None)
    assert status == 200
    assert stored(api) == []


async def test_a_refused_submission_keeps_no_input(api):
    """A submission refused after its input was read (here by a fault rule) leaves no file."""
    await api.add_fault({"action": "error", "code": "Throttling"})
    status, _ = await api.call("POST", GENERATION, wan27(images=(uri(IMAGE),)), headers=ASYNC)
    assert status == 429
    assert stored(api) == []


async def test_results_are_drawn_from_the_bytes_the_client_sent(api):
    """A result is the render of the input's bytes, read back from disk, not a placeholder."""
    task_id = await api.submit(wan27(images=(uri(IMAGE),), size="1K"))
    await api.advance(31)
    brief = task(api, task_id).brief
    image, _ = decode_input(IMAGE, (brief.width, brief.height))
    assert image is not None
    expected = draw_png(
        brief.width, brief.height, brief.seed, brief.prompt, [Input(image)], brief.palette, 0
    )
    assert await result(api, task_id) == expected
    assert expected != paint(dataclasses.replace(brief, inputs=(None,)), 0)


async def test_a_missing_input_file_is_refused_not_drawn_without_it(api):
    """If the input's file is gone at render time, the download answers 404 NoSuchKey: a result
    drawn without its input would be a wrong image."""
    task_id = await api.submit(wan27(images=(uri(IMAGE),), size="1K"))
    await api.advance(31)
    directory = store(api).directory
    assert directory is not None
    (directory / hashlib.sha256(IMAGE).hexdigest()).unlink()
    status, body = await api.download(image_urls(await api.task(task_id))[0])
    assert (status, b"<Code>NoSuchKey</Code>" in body) == (404, True)


async def test_the_directory_lives_as_long_as_the_application():
    """`start` creates the input directory; the runner's cleanup removes it, files and all."""
    runner, _ = await start(EmulatorConfig(port=0, speed=0))
    inputs = runner.app[EMULATOR].inputs
    directory = inputs.directory
    assert directory is not None and directory.is_dir()
    inputs.put(IMAGE)
    await runner.cleanup()
    assert not directory.exists()
    assert inputs.directory is None


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_wanform_emulator_removes_its_input_directory_when_stopped(tmp_path: Path, stop):
    """`wanform emulator` makes its input directory in TMPDIR and removes it when it stops."""
    command = emulator_command("--api-key", KEY)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp_path)}
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("http://")  # serving: the directory exists
        assert [p.name.startswith(DIRECTORY_PREFIX) for p in tmp_path.iterdir()] == [True]
    finally:
        process.send_signal(stop)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    assert list(tmp_path.iterdir()) == []
