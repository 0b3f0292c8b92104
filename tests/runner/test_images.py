"""What each image becomes on the wire, and the fingerprint that recognises a job across runs."""

from __future__ import annotations

import base64

from wanform.runner.recipes.build import ImageRef
from wanform.runner.recipes.check import validate_paths
from wanform.runner.recipes.wire import Source, data_uri, journal_key, load_sources, needs_upload
from wanform.spec.models import DATA_URI_MAX_BYTES

RECIPE = """\
    model: wan2.7-image
    prompt: Put the clock on the table.
    inputs:
      - path: images/alarm-clock.png
    n: 1
    """


def source(size: int, field: str = "base_image_url") -> Source:
    role = "mask" if field == "mask_image_url" else "input"
    return Source(
        ImageRef(("input", field), ("inputs", 0), "path", "x.png", role),
        b"\0" * size,
        "image/png",
        "x.png",
    )


def test_files_go_inline_until_the_data_uri_would_pass_the_limit():
    """The base64 data URI's length decides: at the limit inline, one byte over it an upload."""
    prefix = len("data:image/png;base64,")
    largest = (DATA_URI_MAX_BYTES - prefix) // 4 * 3
    assert len(data_uri(source(largest))) <= DATA_URI_MAX_BYTES and not needs_upload(
        source(largest)
    )
    assert needs_upload(source(largest + 1))


def test_a_wanx21_mask_is_always_uploaded():
    """The mask field takes only URLs (page 002),
    so even a small mask goes through the upload flow."""
    assert needs_upload(source(100, "mask_image_url")) and not needs_upload(source(100))


def test_the_fingerprint_follows_the_image_bytes_not_the_file_name(project):
    """Renaming an input keeps the job's identity; changing one byte of it makes a new job."""
    project.recipe("clock", RECIPE)

    def identity() -> str:
        checked = validate_paths([str(project.root / "clock.yaml")], root=project.root).jobs[0]
        return journal_key(
            checked.request, load_sources(checked.request), "https://dashscope.aliyuncs.com/api/v1"
        )

    first = identity()
    (project.root / "images" / "alarm-clock.png").rename(project.root / "images" / "clock.png")
    project.recipe("clock", RECIPE.replace("alarm-clock.png", "clock.png"))
    assert identity() == first
    path = project.root / "images" / "clock.png"
    path.write_bytes(path.read_bytes() + b"\0")
    assert identity() != first


def test_a_data_uri_input_is_sent_as_given(project):
    """A recipe's `data:` image reaches the body byte for byte."""
    raw = (project.root / "images" / "alarm-clock.png").read_bytes()
    uri = "data:image/png;base64," + base64.b64encode(raw).decode()
    project.recipe("clock", RECIPE.replace("path: images/alarm-clock.png", f"data: '{uri}'"))
    checked = validate_paths([str(project.root / "clock.yaml")], root=project.root).jobs[0]
    assert data_uri(load_sources(checked.request)[0]) == uri
