"""Request-body checks as the emulator applies them: the API's own shapes, not recipes."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from wanform.spec.checks import check_request, request_images, select_mode
from wanform.spec.datauri import decode as decode_data_uri
from wanform.spec.imageprobe import ImageProbeError, probe_bytes
from wanform.spec.models import MODELS, table
from wanform.spec.schema import envelope_problem
from wanform.spec.sizes import output_size


def png_uri(width: int, height: int, mode: str = "RGB", fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode()


def probe_uri(_path, ref):
    try:
        return probe_bytes(decode_data_uri(ref)[1]) if ref.startswith("data:") else None
    except (ValueError, ImageProbeError) as exc:
        return ImageProbeError(str(exc))


def messages_body(model: str, images: list[str], text: str = "edit it", **parameters) -> dict:
    content = [{"image": i} for i in images] + [{"text": text}]
    return {
        "model": model,
        "input": {"messages": [{"role": "user", "content": content}]},
        "parameters": parameters,
    }


def codes(body: dict) -> list[str]:
    return [p.code for p in check_request(body, images=probe_uri) if p.severity == "error"]


def test_sdk_is_async_key_is_tolerated():
    """The official SDK leaks `is_async` into parameters; the check must not reject it."""
    assert codes(messages_body("wan2.7-image", [png_uri(300, 300)], n=1, is_async=True)) == []


def test_parameter_of_another_model_is_reported():
    """A documented parameter the model does not take (bbox_list on wan2.6) is an error."""
    assert codes(messages_body("wan2.6-image", [png_uri(300, 300)], n=1, bbox_list=[[]])) == [
        "param-not-accepted"
    ]


def test_two_messages_are_refused_with_dashscope_wording():
    """Only single-turn requests exist; the message quotes DashScope's own."""
    body = messages_body("wan2.7-image", [], n=1)
    body["input"]["messages"].append(body["input"]["messages"][0])
    problems = check_request(body)
    assert [(p.code, p.message) for p in problems] == [
        ("messages-count", "messages length only support 1")
    ]


def test_wan26_needs_exactly_one_text():
    """wan2.6 content holds exactly one text item."""
    body = messages_body("wan2.6-image", [png_uri(300, 300)], n=1)
    body["input"]["messages"][0]["content"].append({"text": "again"})
    assert codes(body) == ["prompt-count"]


def test_interleave_n_message_matches_the_service():
    """wan2.6 interleave with n=2 answers as DashScope does: num_images_per_prompt must be 1."""
    problems = check_request(messages_body("wan2.6-image", [], n=2, enable_interleave=True))
    assert [(p.code, p.message) for p in problems] == [
        ("n-range", "num_images_per_prompt must be 1.")
    ]


def test_data_uri_image_dimensions_are_checked():
    """A data URI input is decoded and its header checked against the model's side range."""
    assert codes(messages_body("wan2.7-image", [png_uri(200, 300)], n=1)) == ["image-side"]


def test_undecodable_image_is_reported():
    """Bytes that are not an image give image-unreadable, not a crash."""
    bad = "data:image/png;base64," + base64.b64encode(b"not an image").decode()
    assert codes(messages_body("wan2.7-image", [bad], n=1)) == ["image-unreadable"]


def test_mask_must_be_a_url():
    """The wanx2.1 reference says the mask is a URL only; base64 is refused."""
    body = {
        "model": "wanx2.1-imageedit",
        "input": {
            "prompt": "p",
            "function": "description_edit_with_mask",
            "base_image_url": png_uri(600, 600),
            "mask_image_url": png_uri(600, 600, "L"),
        },
        "parameters": {"n": 1},
    }
    assert codes(body) == ["mask-data-uri"]


def test_mask_size_must_match_base():
    """A mask of another size than the base image is an error."""
    body = {
        "model": "wanx2.1-imageedit",
        "input": {
            "prompt": "p",
            "function": "description_edit_with_mask",
            "base_image_url": "https://e/x.png",
            "mask_image_url": "https://e/m.png",
        },
        "parameters": {},
    }
    sizes = {"https://e/x.png": (600, 600), "https://e/m.png": (600, 700)}

    def lookup(_path, ref):
        return probe_bytes(decode_data_uri(png_uri(*sizes[ref]))[1])

    assert [p.code for p in check_request(body, images=lookup)] == ["mask-size"]


def test_request_images_lists_inputs_then_mask():
    """request_images gives every image reference with its body path, the mask last."""
    body = {
        "model": "wanx2.1-imageedit",
        "input": {
            "prompt": "p",
            "function": "description_edit_with_mask",
            "base_image_url": "u1",
            "mask_image_url": "u2",
        },
    }
    assert request_images(body) == [
        (("input", "base_image_url"), "u1"),
        (("input", "mask_image_url"), "u2"),
    ]


def test_missing_model_uses_the_empty_model_code():
    """A body without model answers BadRequest.EmptyModel, as DashScope does."""
    assert [p.api_code for p in check_request({"input": {}})] == ["BadRequest.EmptyModel"]


@pytest.mark.parametrize(
    "body, expected",
    [
        ("not json object", "BadRequest.IllegalInput"),
        ({"model": "wan9"}, "InvalidParameter"),
        ({"model": "wan2.7-image"}, "BadRequest.EmptyInput"),
    ],
)
def test_structural_failures_map_to_dashscope_codes(body, expected):
    """Non-object bodies, unknown models and missing input each get their DashScope code."""
    assert [p.api_code for p in check_request(body)] == [expected]


def test_prompt_over_limit_is_a_warning():
    """DashScope truncates long prompts; the check warns rather than rejects."""
    problems = check_request(
        messages_body("wan2.6-image", [png_uri(300, 300)], text="x" * 2001, n=1)
    )
    assert [(p.code, p.severity) for p in problems] == [("prompt-too-long", "warning")]


@pytest.mark.parametrize(
    "model, params, images, last, expected",
    [
        ("wan2.7-image-pro", {"size": "2K"}, 1, (2976, 1408), (2976, 1408)),
        ("wan2.7-image-pro", {}, 0, None, (2048, 2048)),
        ("wan2.7-image-pro", {"size": "4K"}, 0, None, (4096, 4096)),
        ("wan2.7-image", {"size": "1K"}, 1, (1488, 704), (1488, 704)),
        ("wan2.6-image", {"size": "1010*1010"}, 1, (500, 500), (1008, 1008)),
        ("wan2.6-image", {"enable_interleave": True}, 1, (640, 480), (640, 480)),
        ("wan2.5-i2i-preview", {}, 1, (1000, 1000), (1280, 1280)),
        ("wan2.5-i2i-preview", {"size": "1280*720"}, 2, (600, 600), (1280, 720)),
    ],
)
def test_output_size(model, params, images, last, expected):
    """The output size follows the tier, the explicit size, or the last input's aspect ratio."""
    spec = MODELS[model]
    assert output_size(spec, select_mode(spec, params, images), params, last) == expected


@pytest.mark.parametrize(
    "function, params, expected",
    [
        ("expand", {"left_scale": 1.5, "right_scale": 1.5, "top_scale": 1.5}, (1200, 900)),
        ("super_resolution", {"upscale_factor": 3}, (1800, 1800)),
        ("colorization", {}, (600, 600)),
    ],
)
def test_imageedit_output_size(function, params, expected):
    """wanx2.1 keeps the base size except for expand and super_resolution."""
    spec = MODELS["wanx2.1-imageedit"]
    assert output_size(spec, spec.modes["edit"], params, (600, 600), function) == expected


def test_variants_switch_documented_disagreements():
    """The wan2.7 default n and the wan2.6 limits follow the chosen document variant."""
    assert MODELS["wan2.7-image"].modes["edit"].n_default == 4
    older = table({"wan2.7.n_default": "1", "wan2.6.limits": "2025"})
    assert older["wan2.7-image"].modes["edit"].n_default == 1
    assert older["wan2.6-image"].image.side.low == 384
    assert older["wan2.6-image"].modes["edit"].size.tiers == {}
    body = messages_body("wan2.6-image", [png_uri(300, 300)], n=1, size="2K")
    assert sorted(p.code for p in check_request(body, models=older, images=probe_uri)) == [
        "image-side",
        "image-side",
        "size-tier",
    ]


def test_unknown_variant_is_refused():
    """A misspelt variant names the known ones instead of being ignored."""
    with pytest.raises(ValueError, match="wan2.7.n_default"):
        table({"wan2.7.n_default": "7"})


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        ([], None, ("not-an-object", "BadRequest.IllegalInput")),
        ({"model": "", "input": {}}, None, ("missing", "BadRequest.EmptyModel")),
        ({"model": ["x"], "input": {}}, None, ("unknown-model", "InvalidParameter")),
        ({"model": "wan2.5-i2i-preview"}, None, ("missing", "BadRequest.EmptyInput")),
        (
            {"model": "wan2.5-i2i-preview", "input": {}},
            "/services/aigc/multimodal-generation/generation",
            ("wrong-endpoint", "InvalidParameter"),
        ),
    ],
)
def test_the_envelope_is_checked_before_the_shape(body, path, expected):
    """Object, model, route and input are refused with their documented codes, before any schema."""
    problem = envelope_problem(body, MODELS, path)
    assert problem is not None and (problem.code, problem.api_code) == expected
