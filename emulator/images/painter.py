"""A brief's images as PNG bytes: its inputs read from disk, decoded near the output size, then
drawn."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, UnidentifiedImageError

from wanform.emulator.images.brief import Brief
from wanform.emulator.images.draw import Box, Input, PngCache, draw_png
from wanform.spec.models import MODELS

# the largest input any model takes (sides up to 8000 px on page 003)
LARGEST_SIDE = int(max(spec.image.side.high for spec in MODELS.values()))
MAX_DECODE_PIXELS = min(Image.MAX_IMAGE_PIXELS or LARGEST_SIDE**2, LARGEST_SIDE**2)


def decode_input(
    data: bytes | None, size: tuple[int, int], boxes: Sequence[Box] = ()
) -> tuple[Image.Image | None, tuple[tuple[float, ...], ...]]:
    """An input, decoded near `size`, the boxes in the decoded image's pixels; None for bytes
    that are no image (or far too large)."""
    if data is None:
        return None, ()
    try:
        image = Image.open(io.BytesIO(data))
        original = image.size
        if original[0] * original[1] > MAX_DECODE_PIXELS:
            return None, ()
        # JPEG decodes at 1/2, 1/4, 1/8 scale: much faster
        image.draft("RGB", size)
        image.load()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None, ()
    sx = image.width / original[0]
    sy = image.height / original[1]
    return image, tuple((b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for b in boxes if len(b) == 4)


def inputs_of(brief: Brief) -> list[Input]:
    """The brief's inputs, read from disk now (InputGone if a file is gone) and decoded; the mask
    goes with the first image (wanx2.1 has one)."""
    size = (brief.width, brief.height)
    mask = decode_input(brief.mask.read(), size)[0] if brief.mask is not None else None
    drawn = []
    for number, (handle, boxes) in enumerate(zip(brief.inputs, brief.bboxes, strict=True)):
        image, scaled = decode_input(handle.read() if handle is not None else None, size, boxes)
        drawn.append(Input(image, scaled, mask if number == 0 and image is not None else None))
    return drawn


def paint(brief: Brief, index: int, cache: PngCache | None = None) -> bytes:
    """Draw image `index` of `brief` (in a worker thread), through `cache` when given."""
    return draw_png(
        width=brief.width,
        height=brief.height,
        seed=brief.seed,
        prompt=brief.prompt,
        inputs=inputs_of(brief),
        palette=brief.palette,
        index=index,
        cache=cache,
        watermark=brief.watermark,
    )
