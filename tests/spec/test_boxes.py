"""bbox_list at its documented edge: "Each image can have up to 2 bounding boxes" (page 003)."""

from __future__ import annotations

import base64
import io

from PIL import Image

from wanform.spec.checks import check_request
from wanform.spec.datauri import decode as decode_data_uri
from wanform.spec.imageprobe import probe_bytes


def png_uri(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def problems(boxes: list[list[list[int]]]) -> list[tuple[str, str]]:
    body = {
        "model": "wan2.7-image",
        "input": {
            "messages": [
                {"role": "user", "content": [{"image": png_uri(400, 300)}, {"text": "edit"}]}
            ]
        },
        "parameters": {"n": 1, "bbox_list": boxes},
    }
    found = check_request(body, images=lambda _path, ref: probe_bytes(decode_data_uri(ref)[1]))
    return [(p.code, p.message) for p in found]


def test_two_boxes_on_one_image_pass():
    """Two boxes inside a 400x300 image are as many as the service takes: no problem."""
    assert problems([[[0, 0, 10, 10], [20, 20, 400, 300]]]) == []


def test_a_third_box_is_refused():
    """Three boxes on one image are one problem, naming the count and the limit."""
    boxes = [[[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]]
    assert problems(boxes) == [("bbox-too-many", "image 1 has 3 boxes; at most 2")]
