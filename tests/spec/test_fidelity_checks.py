"""Issue 10's mismatches as the shared checks see them, and the guessed rules' two sides."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from tests.spec.test_request_checks import messages_body, png_uri, probe_uri
from wanform.spec.checks import check_request, data_uri_limit
from wanform.spec.errors import MIXED_MODAL, URL_HAS_CHINESE
from wanform.spec.models import MB, MODELS, table


def errors(body: dict, models=MODELS) -> list[tuple[str, str]]:
    found = check_request(body, models=models, images=probe_uri)
    return [(p.code, p.message) for p in found if p.severity == "error"]


def wanx21(function: str = "colorization", **fields) -> dict:
    base = fields.pop("base_image_url", "https://example.com/base.png")
    parameters = fields.pop("parameters", {})
    return {
        "model": "wanx2.1-imageedit",
        "input": {"function": function, "prompt": "colour it", "base_image_url": base, **fields},
        "parameters": parameters,
    }


def test_an_item_with_text_and_image_is_refused_in_the_documented_words() -> None:
    body = messages_body("wan2.7-image", [], n=1)
    body["input"]["messages"][0]["content"] = [{"text": "edit it", "image": png_uri(300, 300)}]
    assert ("content-mixed", MIXED_MODAL) in errors(body)


def test_size_on_wanx21_is_refused_naming_the_parameter() -> None:
    found = errors(wanx21(parameters={"size": "1024*1024", "n": 1}))
    assert [code for code, _ in found] == ["param-not-accepted"]
    assert "`size`" in found[0][1]


def test_a_data_uri_labelled_with_another_format_is_refused() -> None:
    jpeg_label = png_uri(300, 300).replace("data:image/png", "data:image/jpeg")
    found = errors(messages_body("wan2.7-image", [jpeg_label], n=1))
    assert [code for code, _ in found] == ["image-mime"]


@pytest.mark.parametrize("field", ["base_image_url", "mask_image_url"])
def test_a_wanx21_url_with_chinese_characters_is_refused(field: str) -> None:
    urls = {"base_image_url": "https://example.com/b.png", "mask_image_url": "https://e.com/m.png"}
    urls[field] = "https://example.com/图片.png"
    body = wanx21("description_edit_with_mask", **urls)
    assert errors(body) == [("url-chinese", URL_HAS_CHINESE)]


def test_a_percent_encoded_url_passes() -> None:
    assert errors(wanx21(base_image_url="https://example.com/%E5%9B%BE.png")) == []


@pytest.mark.parametrize(
    ("body", "guess"),
    [
        (messages_body("wan2.7-image", [], n=1, prompt_extend=True), "wan2.7.unsupported_params"),
        (messages_body("wan2.7-image", [], n=1, stream=True), "wan2.7.unsupported_params"),
        (wanx21(parameters={"size": "1024*1024"}), "params.other_models"),
        (messages_body("wan2.6-image", [png_uri(300, 300)], n=1, max_images=2), None),
        (wanx21(mask_image_url="https://example.com/m.png"), "wanx2.1.mask_other_function"),
        (messages_body("wan2.7-image", [], text=" ", n=1), "prompt.empty"),
    ],
)
def test_refuse_or_ignore_follows_the_table(body: dict, guess: str | None) -> None:
    guess = guess or "wan2.6.max_images_without_interleave"
    refused = check_request(body, images=probe_uri)
    assert [p.guess for p in refused if p.severity == "error"] == [guess]
    other = {g: v for g, v in (("prompt.empty", "accept"),) if g == guess} or {guess: "ignore"}
    ignored = check_request(body, models=table(other), images=probe_uri)
    assert [p.severity for p in ignored if p.guess == guess] == ["warning"]
    assert not [p for p in ignored if p.severity == "error"]


def test_second_text_item_on_wan27_follows_the_table() -> None:
    body = messages_body("wan2.7-image", [], n=1)
    body["input"]["messages"][0]["content"].append({"text": "and more"})
    assert [c for c, _ in errors(body)] == ["prompt-count"]
    assert errors(body, table({"wan2.7.text_items": "many"})) == []


def test_transparent_png_is_refused_by_default_and_acceptable() -> None:
    """Three of the four language versions say PNG transparency is not supported: refused
    unless the variant image.alpha=accept (page 003's "ignored") is chosen."""
    body = messages_body("wan2.7-image", [png_uri(300, 300, "RGBA")], n=1)
    assert [c for c, _ in errors(body)] == ["image-alpha"]
    assert errors(body, table({"image.alpha": "accept"})) == []


def test_wan27_data_uri_cap_follows_the_table() -> None:
    assert data_uri_limit(MODELS["wan2.7-image"]) == (10_485_760, "wan2.7.data_uri_max")
    wide = table({"wan2.7.data_uri_max": "20MB"})
    assert data_uri_limit(wide["wan2.7-image-pro"]) == (20 * MB, "wan2.7.data_uri_max")
    assert data_uri_limit(wide["wan2.6-image"]) == (10_485_760, None)


def _jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 300)).save(buf, "JPEG")
    return buf.getvalue()


def test_matching_labels_pass() -> None:
    uri = "data:image/jpeg;base64," + base64.b64encode(_jpeg_bytes()).decode()
    assert errors(messages_body("wan2.7-image", [uri], n=1)) == []
