"""Request bodies that used to raise inside wanform.spec.checks or wanform.spec.schema: each is a
problem."""

from __future__ import annotations

import pytest

from wanform.spec.checks import check_request

URL = "https://example.com/a.png"
BODIES = {
    "wan2.5-i2i-preview": {"input": {"prompt": "a cat", "images": [URL]}},
    "wan2.6-image": {
        "input": {"messages": [{"role": "user", "content": [{"text": "a cat"}, {"image": URL}]}]}
    },
    "wanx2.1-imageedit": {
        "input": {"prompt": "a cat", "function": "stylization_all", "base_image_url": URL}
    },
}


def _body(model: str, **parameters: object) -> dict:
    return {"model": model, **BODIES[model], "parameters": parameters}


UNTAKEN = [
    (model, name, value)
    for model in sorted(BODIES)
    for name, value in [("bbox_list", "xx"), ("bbox_list", [[1]]), ("color_palette", 5)]
] + [("wanx2.1-imageedit", "size", "1*1"), ("wanx2.1-imageedit", "size", "0*0")]


@pytest.mark.parametrize(("model", "name", "value"), UNTAKEN)
def test_parameter_the_model_does_not_take_is_refused_by_name(
    model: str, name: str, value: object
) -> None:
    """A parameter outside the model's list is named, whatever its value, and not checked on."""
    problems = check_request(_body(model, **{name: value}))
    assert [(p.code, p.path) for p in problems] == [("param-not-accepted", ("parameters", name))]
    assert f"`{name}`" in problems[0].message


def test_integer_past_float_range_is_out_of_range() -> None:
    """A seed of 1e309 as a JSON integer is above the maximum, not an OverflowError."""
    problems = check_request(_body("wan2.6-image", seed=10**309))
    assert [(p.code, p.path) for p in problems] == [("out-of-range", ("parameters", "seed"))]
