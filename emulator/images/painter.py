"""A brief's images as PNG bytes: its last input read from disk, decoded near the output size,
then drawn."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from wanform.emulator.images.brief import Brief
from wanform.emulator.images.draw import PngCache, draw_png
from wanform.spec.models import MODELS

# the largest input any model takes (sides up to 8000 px on page 003)
LARGEST_SIDE = int(max(spec.image.side.high for spec in MODELS.values()))
MAX_DECODE_PIXELS = min(Image.MAX_IMAGE_PIXELS or LARGEST_SIDE**2, LARGEST_SIDE**2)


def _base_image(brief: Brief) -> tuple[Image.Image | None, tuple[tuple[float, ...], ...]]:
    """The last input, read from disk now (InputGone if its file is gone), decoded for `brief`."""
    return decode_base(brief.base.read() if brief.base is not None else None, brief)


def decode_base(
    data: bytes | None, brief: Brief
) -> tuple[Image.Image | None, tuple[tuple[float, ...], ...]]:
    """An input, decoded near the output size, the boxes in the decoded image's pixels."""
    if data is None:
        return None, ()
    try:
        image = Image.open(io.BytesIO(data))
        original = image.size
        if original[0] * original[1] > MAX_DECODE_PIXELS:
            return None, ()
        # JPEG decodes at 1/2, 1/4, 1/8 scale: much faster
        image.draft("RGB", (brief.width, brief.height))
        image.load()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None, ()
    sx = image.width / original[0]
    sy = image.height / original[1]
    return image, tuple(
        (b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for b in brief.bboxes if len(b) == 4
    )


def paint(brief: Brief, index: int, cache: PngCache | None = None) -> bytes:
    """Draw image `index` of `brief` (in a worker thread), through `cache` when given."""
    base, boxes = _base_image(brief)
    return draw_png(
        width=brief.width,
        height=brief.height,
        seed=brief.seed,
        prompt=brief.prompt,
        base_image=base,
        bboxes=boxes,
        palette=brief.palette,
        index=index,
        cache=cache,
    )
