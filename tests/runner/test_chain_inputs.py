"""What a downstream job takes from its upstream at run time: the real file, checked again."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from PIL import Image

from wanform.runner.engine.chain import Chain, LinkedInputError, UpstreamError
from wanform.runner.engine.states import FAILED, SUCCEEDED, ImageOut, JobState
from wanform.runner.recipes import wire
from wanform.runner.recipes.check import CheckedJob, validate_paths

FOX = "name: fox\nmodel: wan2.7-image\nprompt: A fox.\nsize: 1K\nn: 1\n"
WINTER = """\
name: winter
model: wan2.7-image
prompt: Make it winter.
inputs:
  - from: fox
    bboxes: [[100, 100, 900, 900]]
n: 1
"""


@pytest.fixture
def winter(tmp_path: Path) -> CheckedJob:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "fox.yaml").write_text(FOX)
    (tmp_path / "recipes" / "winter.yaml").write_text(WINTER)
    result = validate_paths([str(tmp_path / "recipes")], root=tmp_path)
    assert result.report.ok()
    return next(c for c in result.jobs if c.job.name == "winter")


def image(path: Path, size: tuple[int, int]) -> Path:
    Image.new("RGB", size, (90, 120, 150)).save(path)
    return path


def test_an_upstream_file_as_declared_is_taken(winter: CheckedJob, tmp_path: Path) -> None:
    """The lock's file of the upstream, 1024x1024 as declared, is the input's file."""
    made = image(tmp_path / "fox-1.png", (1024, 1024))
    chain = Chain(known={"recipes/fox.yaml::fox": {1: made}})
    files = asyncio.run(chain.inputs(winter))
    assert list(files.values()) == [made]


def test_a_real_upstream_image_smaller_than_declared_fails_with_a_located_error(
    winter: CheckedJob, tmp_path: Path
) -> None:
    """The model made 800x800 where 1024x1024 was asked: the box no longer fits, and the job
    fails before it is sent, naming the recipe line."""
    made = image(tmp_path / "fox-1.png", (800, 800))
    chain = Chain(known={"recipes/fox.yaml::fox": {1: made}})
    with pytest.raises(LinkedInputError) as caught:
        asyncio.run(chain.inputs(winter))
    assert caught.value.message.endswith(
        "recipes/winter.yaml:6:14: error[bbox-outside-image]: box [100, 100, 900, 900] reaches "
        "outside image 1, which is 800x800"
    )


def test_a_running_upstream_is_waited_for_and_its_failure_skips_the_job(
    winter: CheckedJob,
) -> None:
    """The downstream waits until the upstream ends; an upstream that failed blocks it."""

    async def scenario() -> None:
        chain = Chain(running=["recipes/fox.yaml::fox"])
        waiting = asyncio.create_task(chain.inputs(winter))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        chain.finished("recipes/fox.yaml::fox", JobState("fox.yaml", "fox", "m", state=FAILED))
        with pytest.raises(UpstreamError, match="upstream recipes/fox.yaml::fox failed"):
            await waiting

    asyncio.run(scenario())


def test_a_file_gone_since_the_upstream_ended_is_never_sent(
    winter: CheckedJob, tmp_path: Path
) -> None:
    """An upstream that succeeded but whose file is missing now blocks the job."""
    state = JobState("fox.yaml", "fox", "m", state=SUCCEEDED)
    state.images = [ImageOut(1, str(tmp_path / "gone.png"), "0" * 64, 10)]

    async def scenario() -> None:
        chain = Chain(running=["recipes/fox.yaml::fox"])
        chain.finished("recipes/fox.yaml::fox", state)
        with pytest.raises(UpstreamError, match="has no image 1"):
            await chain.inputs(winter)

    asyncio.run(scenario())


@pytest.mark.parametrize("limit", [None, 1000], ids=["small-inline", "large-uploaded"])
def test_an_upstream_file_is_sent_inline_or_uploaded_never_as_a_url(
    winter: CheckedJob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int | None
) -> None:
    """The upstream's bytes go as a data URI while they fit one, else through the temporary
    upload (oss://); never as the upstream's result URL."""
    if limit is not None:
        monkeypatch.setattr(wire, "DATA_URI_MAX_BYTES", limit)
    made = image(tmp_path / "fox-1.png", (1024, 1024))
    linked = asyncio.run(Chain(known={"recipes/fox.yaml::fox": {1: made}}).inputs(winter))
    uploaded: list[bytes] = []

    async def upload(source: wire.Source) -> str:
        uploaded.append(source.data or b"")
        return "oss://dashscope-instant/fox-1.png"

    values = asyncio.run(wire.encode_all(wire.load_sources(winter.request, linked), upload))
    [value] = values.values()
    if limit is None:
        assert value == "data:image/png;base64," + base64.b64encode(made.read_bytes()).decode()
        assert uploaded == []
    else:
        assert value == "oss://dashscope-instant/fox-1.png" and uploaded == [made.read_bytes()]
