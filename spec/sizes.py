"""The `size` parameter: parsing `W*H`, and the output size DashScope returns for a request."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from wanform.spec.models import Mode, ModelSpec

EXPLICIT = re.compile(r"^(?P<w>[1-9][0-9]{0,5})\*(?P<h>[1-9][0-9]{0,5})$")
TIER_ROUNDING = 16  # documented outputs for tiers ("2976*1408", "1488*704") are multiples of 16
FOLLOW_INPUT_SIDE = (
    1280  # wan2.5 and wan2.6 interleave: about 1280*1280 pixels when size is omitted
)


def parse_explicit(size: str) -> tuple[int, int] | None:
    """`"1024*768"` -> (1024, 768); None when `size` is not of the `W*H` form."""
    match = EXPLICIT.match(size)
    return (int(match["w"]), int(match["h"])) if match else None


def _round_to(value: float, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def _fit_area(side: int, aspect: float, multiple: int) -> tuple[int, int]:
    """Width and height near `side*side` pixels with the given aspect ratio."""
    width = math.sqrt(side * side * aspect)
    return _round_to(width, multiple), _round_to(width / aspect, multiple)


def _aspect(last_input: tuple[int, int] | None) -> float:
    return last_input[0] / last_input[1] if last_input else 1.0


def _imageedit_size(
    parameters: Mapping, function: str | None, base: tuple[int, int]
) -> tuple[int, int]:
    """wanx2.1 keeps the base image's size, except `expand`
    (scales) and `super_resolution` (factor)."""
    width, height = float(base[0]), float(base[1])
    if function == "expand":
        width *= (
            float(parameters.get("left_scale", 1.0)) + float(parameters.get("right_scale", 1.0)) - 1
        )
        height *= (
            float(parameters.get("top_scale", 1.0)) + float(parameters.get("bottom_scale", 1.0)) - 1
        )
    elif function == "super_resolution":
        factor = int(parameters.get("upscale_factor", 1))
        width, height = width * factor, height * factor
    return int(round(width)), int(round(height))


def output_size(
    spec: ModelSpec,
    mode: Mode,
    parameters: Mapping,
    last_input: tuple[int, int] | None,
    function: str | None = None,
) -> tuple[int, int]:
    """The size of each image the model returns for an already valid request."""
    if spec.family == "imageedit":
        base = last_input or (1024, 1024)
        if spec.guess("wanx2.1.output_size") == "input":
            return base
        return _imageedit_size(parameters, function, base)
    rule = mode.size
    size = parameters.get("size") or rule.default
    explicit = parse_explicit(size) if isinstance(size, str) else None
    if explicit:
        return _round_to(explicit[0], rule.multiple_of), _round_to(explicit[1], rule.multiple_of)
    tier = rule.tiers.get(size) if isinstance(size, str) else None
    if tier is not None:
        return _fit_area(tier, _aspect(last_input), max(TIER_ROUNDING, rule.multiple_of))
    if (
        last_input
        and last_input[0] * last_input[1] <= FOLLOW_INPUT_SIDE**2
        and mode.name == "interleave"
    ):
        return _round_to(last_input[0], rule.multiple_of), _round_to(
            last_input[1], rule.multiple_of
        )
    return _fit_area(FOLLOW_INPUT_SIDE, _aspect(last_input), max(TIER_ROUNDING, rule.multiple_of))
