"""Checks on an API request body that JSON Schema cannot express; shared by runner and emulator.

`check_request` checks the envelope (wanform.spec.schema.envelope_problem), then `check_body` the
model's request schema and, when the structure is sound, every semantic limit of the model
table. The emulator runs the two steps apart, with its rate limit between them. Each
problem's path points into the body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from wanform.spec import datauri
from wanform.spec.errors import (
    MIXED_MODAL,
    N_MUST_BE_ONE,
    NO_TEXT,
    ONE_MESSAGE,
    URL_HAS_CHINESE,
)
from wanform.spec.imageprobe import MIME_FORMATS, ImageInfo, ImageProbeError
from wanform.spec.models import (
    DATA_URI_MAX_BYTES,
    MB,
    MODELS,
    URL_ONLY_FIELDS,
    WANX21_FUNCTION_PARAMETERS,
    Mode,
    ModelSpec,
    Range,
)
from wanform.spec.problems import Path, Problem
from wanform.spec.schema import envelope_problem, shape_problems
from wanform.spec.sizes import parse_explicit

ImageLookup = Callable[[Path, str], "ImageInfo | ImageProbeError | None"]
HEX = re.compile(r"^#[0-9A-F]{6}$")  # page 003's example: #C2D1E6
HEX_LOWER = re.compile(r"^#[0-9A-Fa-f]{6}$")  # lower case: the guess palette.hex_lowercase
HEX_SHORT = re.compile(r"^#[0-9A-Fa-f]{3}$")  # #RGB: the guess palette.hex_short
RATIO = re.compile(r"^(?P<num>[0-9]{1,3}\.[0-9]{2})%$")
ALL_PARAMETERS = frozenset().union(*(m.parameters for m in MODELS.values()))
# Han characters, CJK punctuation and full-width forms: page 002 forbids "中文字符" in URLs
CHINESE = re.compile(
    "[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0002ffff]"
)
# Parameters a model's pages call "not supported", each with its own guess (spec/guesses.yaml);
# any other parameter of another model falls under `params.other_models`.
NOT_SUPPORTED_GUESSES: Mapping[tuple[str, str], str] = {
    **{
        (model, name): "wan2.7.unsupported_params"
        for model in ("wan2.7-image-pro", "wan2.7-image")
        for name in ("prompt_extend", "negative_prompt", "stream")
    },
    ("wan2.5-i2i-preview", "negative_prompt"): "wan2.5.negative_prompt",
}


def guessed(
    spec: ModelSpec, guess: str, refuse: bool, code: str, message: str, path: Path
) -> Problem:
    """A finding that rests on guess `guess`: an error when the table's choice refuses it
    (`refuse`), else a warning saying the service is taken to let it through."""
    if refuse:
        return Problem(code, message, path, guess=guess)
    return Problem(
        code,
        f"{message} (taken as accepted: {guess}={spec.guess(guess)})",
        path,
        severity="warning",
        guess=guess,
    )


def data_uri_limit(spec: ModelSpec) -> tuple[int, str | None]:
    """The most bytes a data URI may decode to for `spec`, and the guess that decides it."""
    if spec.name.startswith("wan2.7"):
        wide = spec.guess("wan2.7.data_uri_max") == "20MB"
        return (20 * MB if wide else DATA_URI_MAX_BYTES), "wan2.7.data_uri_max"
    return DATA_URI_MAX_BYTES, None


@dataclass(frozen=True)
class RequestView:
    """The parts of a request that the checks need, each with its path in the body."""

    spec: ModelSpec
    parameters: Mapping
    prompt: tuple[Path, str] | None
    negative_prompt: tuple[Path, str] | None
    images: tuple[tuple[Path, str], ...]
    mask: tuple[Path, str] | None
    function: str | None


def _messages_view(spec: ModelSpec, body: Mapping) -> tuple[RequestView, list[Problem]]:
    problems = []
    messages = body["input"]["messages"]
    if len(messages) != 1:
        problems.append(Problem("messages-count", ONE_MESSAGE, ("input", "messages")))
    texts, images = [], []
    for i, item in enumerate(messages[0]["content"] if messages else []):
        path = ("input", "messages", 0, "content", i)
        if "text" in item and "image" in item:
            problems.append(Problem("content-mixed", MIXED_MODAL, path))
        if "text" in item:
            texts.append((path + ("text",), item["text"]))
        else:
            images.append((path + ("image",), item["image"]))
    if not texts:
        problems.append(
            Problem(
                "prompt-missing",
                f"{NO_TEXT}: the message needs one text item",
                ("input", "messages", 0, "content"),
            )
        )
    elif len(texts) > 1 and spec.name.startswith("wan2.7"):
        refuse = spec.guess("wan2.7.text_items") == "one"
        message = "the message may hold only one text item"
        problems.append(
            guessed(spec, "wan2.7.text_items", refuse, "prompt-count", message, texts[1][0])
        )
    elif len(texts) > 1:
        problems.append(
            Problem("prompt-count", "the message may hold only one text item", texts[1][0])
        )
    params = body.get("parameters", {})
    negative = (
        (("parameters", "negative_prompt"), params["negative_prompt"])
        if "negative_prompt" in params
        else None
    )
    return RequestView(
        spec, params, texts[0] if texts else None, negative, tuple(images), None, None
    ), problems


def _view(spec: ModelSpec, body: Mapping) -> tuple[RequestView, list[Problem]]:
    """Normalise the three body styles into one view."""
    if spec.family == "messages":
        return _messages_view(spec, body)
    inp, params = body["input"], body.get("parameters", {})
    prompt = (("input", "prompt"), inp["prompt"])
    negative = (
        (("input", "negative_prompt"), inp["negative_prompt"]) if "negative_prompt" in inp else None
    )
    if spec.family == "images":
        images = tuple((("input", "images", i), ref) for i, ref in enumerate(inp["images"]))
        return RequestView(spec, params, prompt, negative, images, None, None), []
    base = ((("input", "base_image_url"), inp["base_image_url"]),)
    mask = (("input", "mask_image_url"), inp["mask_image_url"]) if "mask_image_url" in inp else None
    return RequestView(spec, params, prompt, None, base, mask, inp["function"]), []


def select_mode(spec: ModelSpec, parameters: Mapping, image_count: int) -> Mode:
    """The documented mode a request runs in, from its switches and its number of images."""
    if "sequential" in spec.modes and parameters.get("enable_sequential") is True:
        return spec.modes["sequential"]
    if "interleave" in spec.modes and parameters.get("enable_interleave") is True:
        return spec.modes["interleave"]
    if "text_to_image" in spec.modes and image_count == 0:
        return spec.modes["text_to_image"]
    return spec.modes["edit"]


def request_mode(spec: ModelSpec, body: Mapping) -> Mode:
    """The mode of a structurally valid body: its switches and its input images (not the mask)."""
    view, _ = _view(spec, body)
    return select_mode(spec, view.parameters, len(view.images))


def request_images(
    body: Mapping, models: Mapping[str, ModelSpec] = MODELS
) -> list[tuple[Path, str]]:
    """Every image reference in a structurally valid body, the mask last."""
    view, _ = _view(models[body["model"]], body)
    return list(view.images) + ([view.mask] if view.mask else [])


def _taken(view: RequestView, name: str) -> object:
    """A parameter's value when the model takes it, else None: the schema checked the shape of
    only these (check_parameters reports the others)."""
    return view.parameters.get(name) if name in view.spec.parameters else None


def _count_range(allowed: Range) -> str:
    low, high = int(allowed.low), int(allowed.high)
    return f"{low}" if low == high else f"{low} to {high}"


def check_text(view: RequestView) -> Iterator[Problem]:
    """Prompts over the limit are truncated by the service;
    say so rather than let it happen silently."""
    limits = (
        (view.prompt, view.spec.prompt_max, "prompt"),
        (view.negative_prompt, view.spec.negative_prompt_max, "negative_prompt"),
    )
    for item, limit, label in limits:
        if item and limit and len(item[1]) > limit:
            yield Problem(
                f"{label.replace('_', '-')}-too-long",
                f"{label} has {len(item[1])} characters; {view.spec.name} reads the first "
                f"{limit} and drops the rest",
                item[0],
                severity="warning",
            )
    if view.prompt is not None and not view.prompt[1].strip():
        refuse = view.spec.guess("prompt.empty") == "refuse"
        yield guessed(
            view.spec, "prompt.empty", refuse, "prompt-empty", "the prompt is empty", view.prompt[0]
        )


def check_parameters(view: RequestView) -> Iterator[Problem]:
    """Documented parameters of other models, and wanx2.1 parameters meant for another function."""
    spec = view.spec
    for name in view.parameters:
        if name in ALL_PARAMETERS and name not in spec.parameters:
            guess = NOT_SUPPORTED_GUESSES.get((spec.name, name), "params.other_models")
            accepted = ", ".join(sorted(spec.parameters))
            yield guessed(
                spec,
                guess,
                spec.guess(guess) == "refuse",
                "param-not-accepted",
                f"{spec.name} does not take `{name}` (it takes: {accepted})",
                ("parameters", name),
            )
        functions = WANX21_FUNCTION_PARAMETERS.get(name)
        if view.function and functions and view.function not in functions:
            guess = "wanx2.1.function_params"
            yield guessed(
                spec,
                guess,
                spec.guess(guess) == "refuse",
                "param-not-for-function",
                f"`{name}` only applies to function {' or '.join(sorted(functions))}, "
                f"not {view.function}",
                ("parameters", name),
            )
    if "interleave" in spec.modes and view.parameters.get("enable_interleave") is True:
        yield from _interleave_prompt_extend(view)


def _interleave_prompt_extend(view: RequestView) -> Iterator[Problem]:
    """prompt_extend is documented for wan2.6's edit mode only (API-FACTS §4.3)."""
    if "prompt_extend" in view.parameters:
        guess = "wan2.6.interleave_prompt_extend"
        yield guessed(
            view.spec,
            guess,
            view.spec.guess(guess) == "refuse",
            "param-needs-mode",
            "prompt_extend only applies to edit mode, not with enable_interleave: true",
            ("parameters", "prompt_extend"),
        )


def _one_n(mode: Mode) -> str:
    """Why `n` must be 1, in a recipe's words (the service's message names it
    num_images_per_prompt)."""
    why = (
        "one answer mixes text and images, and max_images caps how many images it holds"
        if mode.name == "interleave"
        else "the mode makes one image per request"
    )
    return f"(that is the recipe's `n`, set it to 1: in {mode.name} mode {why})"


def check_counts(view: RequestView, mode: Mode) -> Iterator[Problem]:
    """Image count and `n` for the mode the request runs in."""
    count = len(view.images)
    if count not in mode.images:
        where = (
            ("input", "messages", 0, "content")
            if view.spec.family == "messages"
            else ("input", "images")
        )
        yield Problem(
            "image-count",
            f"{view.spec.name} takes {_count_range(mode.images)} input images in {mode.name} "
            f"mode, got {count}",
            where,
        )
    n = view.parameters.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n not in mode.n:
        if mode.n.high == 1:
            yield Problem("n-range", N_MUST_BE_ONE, ("parameters", "n"), recipe_note=_one_n(mode))
            return
        message = f"n must be {_count_range(mode.n)} in {mode.name} mode, got {n}"
        yield Problem("n-range", message, ("parameters", "n"))
    max_images = _taken(view, "max_images")
    if max_images is not None and mode.name != "interleave":
        guess = "wan2.6.max_images_without_interleave"
        yield guessed(
            view.spec,
            guess,
            view.spec.guess(guess) == "refuse",
            "param-needs-mode",
            "max_images only applies with enable_interleave: true",
            ("parameters", "max_images"),
        )


def check_size(view: RequestView, mode: Mode) -> Iterator[Problem]:
    """A tier the model offers in this mode,
    or an explicit W*H within its pixel and aspect range."""
    size = _taken(view, "size")
    if not isinstance(size, str):
        return
    path, rule = ("parameters", "size"), mode.size
    explicit = parse_explicit(size)
    if explicit is None:
        if size in rule.tiers:
            return
        elsewhere = [m for m in view.spec.modes.values() if size in m.size.tiers]
        if elsewhere:
            modes = " or ".join(f"{m.name} mode ({m.when})" for m in elsewhere)
            yield Problem(
                "size-tier",
                f"size {size} is only offered by {view.spec.name} in {modes}; "
                f"this request is in {mode.name} mode ({mode.when})",
                path,
            )
        else:
            offered = ", ".join(rule.tiers) or "none"
            yield Problem(
                "size-tier",
                f"size {size!r} is not offered by {view.spec.name} in {mode.name} mode "
                f'(tiers: {offered}; or an explicit "W*H")',
                path,
            )
        return
    width, height = explicit
    if width * height not in rule.pixels:
        yield Problem(
            "size-pixels",
            f"size {size} has {width * height} pixels; {view.spec.name} in {mode.name} mode "
            f"takes {int(rule.pixels.low)} to {int(rule.pixels.high)}",
            path,
        )
    if width / height not in rule.aspect:
        yield Problem(
            "size-aspect",
            f"size {size} has aspect ratio {width / height:.4g}; allowed "
            f"{_ratio_text(rule.aspect)}",
            path,
        )


def _ratio_text(allowed: Range) -> str:
    return f"1:{round(1 / allowed.low)} to {round(allowed.high)}:1"


def check_boxes(view: RequestView, infos: list[ImageInfo | None]) -> Iterator[Problem]:
    """bbox_list: one list per image, at most two boxes each, ordered corners, inside the image."""
    boxes = _taken(view, "bbox_list")
    if not isinstance(boxes, list):
        return
    if len(boxes) != len(view.images):
        yield Problem(
            "bbox-count",
            f"bbox_list has {len(boxes)} entries but the request has {len(view.images)} images; "
            "give one list per image ([] for none)",
            ("parameters", "bbox_list"),
        )
    for i, per_image in enumerate(boxes):
        path = ("parameters", "bbox_list", i)
        limit = view.spec.boxes_per_image
        if limit and len(per_image) > limit:
            yield Problem(
                "bbox-too-many",
                f"image {i + 1} has {len(per_image)} boxes; at most {limit}",
                path,
            )
        info = infos[i] if i < len(infos) else None
        for j, box in enumerate(per_image):
            yield from _check_box(view.spec, box, path + (j,), i, info)


def _check_box(
    spec: ModelSpec, box: list[int], path: Path, index: int, info: ImageInfo | None
) -> Iterator[Problem]:
    """Corner order and the image's edge: no page states either rule (guesses bbox.order and
    bbox.outside); a box with its corners swapped is judged on its sorted corners."""
    x1, y1, x2, y2 = box
    if not (x1 < x2 and y1 < y2):
        yield guessed(
            spec,
            "bbox.order",
            spec.guess("bbox.order") == "refuse",
            "bbox-order",
            f"box {box} must have x1 < x2 and y1 < y2",
            path,
        )
    x1, x2, y1, y2 = sorted((x1, x2)) + sorted((y1, y2))
    if info and (min(box) < 0 or x2 > info.width or y2 > info.height):
        yield guessed(
            spec,
            "bbox.outside",
            spec.guess("bbox.outside") == "refuse",
            "bbox-outside-image",
            f"box {box} reaches outside image {index + 1}, which is {info.width}x{info.height}",
            path,
        )


def check_palette(view: RequestView, mode: Mode) -> Iterator[Problem]:
    """color_palette: 3-10 valid colours whose ratios have two decimals and sum to 100.00%."""
    palette = _taken(view, "color_palette")
    if not isinstance(palette, list):
        return
    path = ("parameters", "color_palette")
    if mode.name == "sequential":
        yield Problem(
            "palette-with-sequential",
            "color_palette cannot be used with enable_sequential: true",
            path,
        )
    allowed = view.spec.palette_colours
    if allowed and len(palette) not in allowed:
        yield Problem(
            "palette-count",
            f"color_palette has {len(palette)} colours; it takes {_count_range(allowed)}",
            path,
        )
    total, readable = Decimal(0), True
    for i, colour in enumerate(palette):
        yield from _check_hex(view.spec, colour["hex"], path + (i, "hex"))
        ratio = _ratio(colour["ratio"])
        if ratio is None:
            readable = False
            yield Problem(
                "palette-ratio",
                f'ratio {colour["ratio"]!r} must be a percentage with two decimals, like "25.00%"',
                path + (i, "ratio"),
            )
        else:
            total += ratio
    if readable and total != Decimal("100.00"):
        yield Problem(
            "palette-sum", f"color_palette ratios sum to {total}%; they must sum to 100.00%", path
        )


def _check_hex(spec: ModelSpec, text: str, path: Path) -> Iterator[Problem]:
    """A colour like page 003's #C2D1E6; lower case and #RGB rest on guesses."""
    message = f'{text!r} is not a colour like "#C2D1E6"'
    if HEX.match(text):
        return
    if HEX_LOWER.match(text):
        guess = "palette.hex_lowercase"
    elif HEX_SHORT.match(text):
        guess = "palette.hex_short"
    else:
        yield Problem("palette-hex", message, path)
        return
    yield guessed(spec, guess, spec.guess(guess) == "refuse", "palette-hex", message, path)


def _ratio(text: str) -> Decimal | None:
    match = RATIO.match(text)
    try:
        return Decimal(match["num"]) if match else None
    except InvalidOperation:
        return None


def check_image(
    spec: ModelSpec, path: Path, info: ImageInfo | ImageProbeError, label: str
) -> Iterator[Problem]:
    """Format, bytes, sides and aspect ratio of one input image, from its header."""
    if isinstance(info, ImageProbeError):
        yield Problem("image-unreadable", f"{label} is not a readable image: {info}", path)
        return
    rule = spec.image
    if info.format not in rule.formats:
        yield Problem(
            "image-format",
            f"{label} is {info.format or 'of an unknown format'}; {spec.name} takes "
            f"{', '.join(rule.formats)}",
            path,
        )
    if info.nbytes > rule.max_bytes:
        yield Problem(
            "image-bytes",
            f"{label} is {info.nbytes} bytes; {spec.name} takes at most {rule.max_bytes}",
            path,
        )
    for side, value in (("width", info.width), ("height", info.height)):
        if value not in rule.side:
            yield Problem(
                "image-side",
                f"{label} {side} is {value} px; {spec.name} takes {int(rule.side.low)} to "
                f"{int(rule.side.high)} px",
                path,
            )
    if rule.aspect and info.width / info.height not in rule.aspect:
        yield Problem(
            "image-aspect",
            f"{label} is {info.width}x{info.height}; its aspect ratio must be "
            f"{_ratio_text(rule.aspect)}",
            path,
        )
    if info.has_alpha and spec.family != "imageedit":
        # Pages 000, 001 and 004 say transparency is not supported; page 003 says it is ignored.
        yield guessed(
            spec,
            "image.alpha",
            spec.guess("image.alpha") == "refuse",
            "image-alpha",
            f"{label} has an alpha channel (transparency), which {spec.name} does not support: "
            "flatten it first",
            path,
        )


def check_reference(spec: ModelSpec, path: Path, ref: str, info: object) -> Iterator[Problem]:
    """What the reference itself shows: a data URI whose MIME type is not its bytes' format
    (page 003: they must match), a wanx2.1 URL with Chinese characters (page 002)."""
    uri = datauri.parse(ref) if datauri.is_data_uri(ref) else None
    if uri is not None and isinstance(info, ImageInfo):
        declared = MIME_FORMATS.get(uri.mime.lower())
        if declared and declared != info.format:
            yield Problem(
                "image-mime", f"the data URI says {uri.mime} but the bytes are {info.format}", path
            )
    if uri is None and spec.family == "imageedit" and CHINESE.search(ref):
        yield Problem("url-chinese", URL_HAS_CHINESE, path)


def check_images(
    view: RequestView, lookup: ImageLookup | None
) -> tuple[list[Problem], list[ImageInfo | None]]:
    """Probe every input image (and the mask) through `lookup`; unknown images are not checked."""
    problems: list[Problem] = []
    infos: list[ImageInfo | None] = []
    for i, (path, ref) in enumerate(view.images):
        info = lookup(path, ref) if lookup else None
        infos.append(info if isinstance(info, ImageInfo) else None)
        problems.extend(check_reference(view.spec, path, ref, info))
        if info is not None:
            problems.extend(check_image(view.spec, path, info, f"image {i + 1}"))
    problems.extend(_check_mask(view, lookup, infos[0] if infos else None))
    return problems, infos


def _check_mask(
    view: RequestView, lookup: ImageLookup | None, base: ImageInfo | None
) -> Iterator[Problem]:
    """wanx2.1: a mask exactly for description_edit_with_mask, a URL, as large as the base image."""
    if view.function is None:
        return
    wants_mask = view.function == "description_edit_with_mask"
    if wants_mask and view.mask is None:
        yield Problem("mask-missing", "description_edit_with_mask needs mask_image_url", ("input",))
    if not wants_mask and view.mask is not None:
        guess = "wanx2.1.mask_other_function"
        yield guessed(
            view.spec,
            guess,
            view.spec.guess(guess) == "refuse",
            "mask-unexpected",
            f"mask_image_url only applies to description_edit_with_mask, not {view.function}",
            view.mask[0],
        )
    if view.mask is None or not wants_mask:
        return
    path, ref = view.mask
    if CHINESE.search(ref) and not datauri.is_data_uri(ref):
        yield Problem("url-chinese", URL_HAS_CHINESE, path)
    if path[-1] in URL_ONLY_FIELDS and datauri.is_data_uri(ref):
        yield Problem(
            "mask-data-uri",
            "mask_image_url must be a URL; base64 data is not accepted for the mask",
            path,
        )
    info = lookup(path, ref) if lookup else None
    if info is None:
        return
    yield from check_image(view.spec, path, info, "the mask")
    if (
        isinstance(info, ImageInfo)
        and base
        and (info.width, info.height) != (base.width, base.height)
    ):
        yield Problem(
            "mask-size",
            f"the mask is {info.width}x{info.height} but the base image is "
            f"{base.width}x{base.height}; they must match",
            path,
        )


def check_request(
    body: object, *, models: Mapping[str, ModelSpec] = MODELS, images: ImageLookup | None = None
) -> list[Problem]:
    """Every problem DashScope would reject
    (errors) or silently work around (warnings) in `body`."""
    problem = envelope_problem(body, models)
    if problem is not None:
        return [problem]
    assert isinstance(body, dict)  # envelope_problem refuses anything else
    return check_body(models[body["model"]], body, images=images)


def check_body(
    spec: ModelSpec, body: Mapping, *, images: ImageLookup | None = None
) -> list[Problem]:
    """`check_request` after the envelope: for a body `envelope_problem` passed with `spec`."""
    problems = shape_problems(spec, body)
    if problems:
        return problems
    view, problems = _view(spec, body)
    mode = select_mode(spec, view.parameters, len(view.images))
    image_problems, infos = check_images(view, images)
    problems += [
        *check_text(view),
        *check_parameters(view),
        *check_counts(view, mode),
        *check_size(view, mode),
        *check_boxes(view, infos),
        *check_palette(view, mode),
        *image_problems,
    ]
    return problems
