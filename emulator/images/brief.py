"""What a valid request asks the model to make: how many images, at what size, drawn from what.

Where the real model "decides up to n" (image sets, interleaved output) the emulator follows the
guess `sets.count` (spec/guesses.yaml): by default a third of such requests, chosen by their seed,
make fewer images than asked, so a client meets the case and a replay meets it again.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from wanform.emulator.images.inputstore import InputStore, StoredInput
from wanform.spec.checks import request_images, select_mode
from wanform.spec.imageprobe import ImageInfo
from wanform.spec.models import TOKENLESS_MODES, Mode, ModelSpec
from wanform.spec.problems import Path
from wanform.spec.sizes import output_size

UNKNOWN_IMAGE_TOKENS = 1024  # an input not fetched (an outside URL) still costs tokens
TOKEN_TILE = 32  # synthetic: one input token per 32x32 tile of an input image
WATERMARK_GUESS = "watermark.text"


@dataclass(frozen=True)
class Brief:
    """The images one task produces and everything needed to draw them.

    `style` is the body shape: "choices" (one choice per image), "set" (one choice holding
    all images: wan2.7 image sets), "interleave" (one choice alternating text and images:
    wan2.6 enable_interleave) or "results" (output.results: wan2.5, wanx2.1).
    """

    model: str
    style: str
    prompt: str
    count: int
    width: int
    height: int
    seed: int
    # every input image, in order (None: one not read, an outside URL not fetched), its boxes
    inputs: tuple[StoredInput | None, ...]
    bboxes: tuple[tuple[tuple[int, ...], ...], ...]  # per input image
    mask: StoredInput | None  # wanx2.1's inpainting mask, over the first image
    palette: tuple[tuple[str, float], ...]
    input_tokens: int
    tokens: bool  # whether usage reports tokens
    text_tokens: bool  # whether interleaved text counts as output tokens (interleave.usage)
    orig_prompt: bool  # results carry orig_prompt (wan2.5)
    actual_prompt: bool  # results carry actual_prompt (wan2.5 with prompt_extend)
    unverified: tuple[str, ...] = ()  # guesses (spec/guesses.yaml ids) the count rests on
    watermark: str | None = None  # the mark's text when the request asks for one

    @property
    def stored(self) -> tuple[StoredInput, ...]:
        """The input files this brief holds in the input store, one per input (and mask) read."""
        return tuple(h for h in (*self.inputs, self.mask) if h is not None)

    @property
    def size(self) -> str:
        return f"{self.width}*{self.height}"

    def text(self, index: int) -> str:
        """The text the model writes before image `index` of interleaved output."""
        return f"Part {index + 1} of {self.count}: {self.prompt}"


def _prompt(spec: ModelSpec, body: Mapping) -> str:
    if spec.family != "messages":
        return body["input"]["prompt"]
    return next(item["text"] for item in body["input"]["messages"][0]["content"] if "text" in item)


def _style(spec: ModelSpec, mode: Mode) -> str:
    if spec.family != "messages":
        return "results"
    return {"interleave": "interleave", "sequential": "set"}.get(mode.name, "choices")


def _up_to(count: int, seed: int) -> int:
    """How many of "up to `count`" images a request makes when `sets.count` is `fewer`:
    one in three seeds makes 1 to count-1 of them."""
    pick = random.Random(seed)
    if count > 1 and pick.random() < 1 / 3:
        return pick.randint(1, count - 1)
    return count


def _guesses(spec: ModelSpec, mode: Mode, parameters: Mapping, style: str) -> tuple[str, ...]:
    """The guesses that decided how many images the request makes, their size, usage and look."""
    guesses = []
    if mode.n_default_guess is not None and "n" not in parameters:
        guesses.append(mode.n_default_guess)
    if style in ("set", "interleave"):
        guesses.append("sets.count")
    if style == "interleave":
        guesses.append("interleave.usage")
    if spec.family == "imageedit":
        guesses.append("wanx2.1.output_size")
    if parameters.get("watermark") is True:
        guesses.append(WATERMARK_GUESS)
    return tuple(guesses)


def _percent(text: str) -> float:
    try:
        return float(str(text).rstrip("%"))
    except ValueError:
        return 0.0


def _image_tokens(info: ImageInfo | None) -> int:
    if info is None:
        return UNKNOWN_IMAGE_TOKENS
    return math.ceil(info.width / TOKEN_TILE) * math.ceil(info.height / TOKEN_TILE)


def brief_for(
    spec: ModelSpec,
    body: Mapping,
    infos: Mapping[Path, ImageInfo],
    data: Mapping[Path, bytes],
    models: Mapping[str, ModelSpec],
    default_seed: int,
    store: InputStore,
) -> Brief:
    """The brief for a request that passed `wanform.spec.checks.check_body`; `infos`/`data` hold the
    probed inputs, kept in `store` for the brief to hold (release `brief.stored` if no task takes
    the brief)."""
    parameters = body.get("parameters") or {}
    refs = request_images(body, models)
    masked = body["input"].get("mask_image_url") is not None
    inputs = refs[:-1] if masked else refs
    mode = select_mode(spec, parameters, len(inputs))
    last = inputs[-1][0] if inputs else None
    last_info = infos.get(last) if last else None
    function = body["input"].get("function")
    width, height = output_size(
        spec, mode, parameters, (last_info.width, last_info.height) if last_info else None, function
    )
    count, style = mode.images_asked(parameters), _style(spec, mode)
    seed = parameters.get("seed", default_seed)
    if style in ("set", "interleave") and spec.guess("sets.count") == "fewer":
        count = _up_to(count, seed)
    prompt = _prompt(spec, body)
    boxes = parameters.get("bbox_list") or []
    if len(boxes) != len(inputs):
        boxes = [[] for _ in inputs]
    # last: kept only once nothing else can raise
    kept, mask = _kept([path for path, _ in refs], data, store, masked)
    return Brief(
        model=spec.name,
        style=style,
        prompt=prompt,
        count=count,
        width=width,
        height=height,
        seed=seed,
        bboxes=tuple(tuple(tuple(box) for box in image_boxes) for image_boxes in boxes),
        palette=tuple(
            (c["hex"], _percent(c["ratio"])) for c in parameters.get("color_palette") or ()
        ),
        input_tokens=len(prompt) + sum(_image_tokens(infos.get(path)) for path, _ in inputs),
        tokens=(spec.name, mode.name) not in TOKENLESS_MODES,
        text_tokens=spec.guess("interleave.usage") == "text",
        orig_prompt=spec.family == "images",
        actual_prompt=spec.family == "images" and parameters.get("prompt_extend", True) is True,
        unverified=_guesses(spec, mode, parameters, style),
        watermark=spec.guess(WATERMARK_GUESS) if parameters.get("watermark") is True else None,
        inputs=kept,
        mask=mask,
    )


def _kept(
    paths: list[Path], data: Mapping[Path, bytes], store: InputStore, masked: bool
) -> tuple[tuple[StoredInput | None, ...], StoredInput | None]:
    """The `inputs` and `mask` of a brief: each one read put in `store`; if one cannot be (past
    the store's cap), those put before it are released and the error raised."""
    kept: list[StoredInput | None] = []
    try:
        for path in paths:
            kept.append(store.put(data[path]) if path in data else None)
    except BaseException:
        for handle in kept:
            if handle is not None:
                store.settle(handle)
                store.release(handle)
        raise
    if masked:
        return tuple(kept[:-1]), kept[-1]
    return tuple(kept), None
