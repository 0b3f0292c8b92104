"""The emulator's result images: what the request asked, drawn so a test can see it was read.

One input image is fitted to the output size; several sit side by side in a grid, each numbered.
Each input shows its boxes (bbox_list) and a wanx2.1 mask tints its image where it is white. A
palette colours the background and a strip along the bottom; the prompt runs across the top; a
watermark (`watermark: true`) is a badge at the bottom right, above the caption.

Rendering is deterministic in its arguments, and cached by them in a `PngCache` when given one.
Large outputs are drawn on a smaller canvas and enlarged by repeating pixels, which keeps them
legible and makes PNG encoding cheap: a repeated row is written as PNG's "Up" filter, all zeros,
instead of being filtered five ways and compressed again.
"""

from __future__ import annotations

import array
import asyncio
import functools
import hashlib
import io
import json
import math
import random
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageColor, ImageDraw, ImageFont

from wanform.spec.formats import png

CANVAS_MAX_SIDE = 1280  # outputs up to this size are drawn pixel for pixel
# the largest documented output: wanx2.1 super_resolution x4 of a 4096x4096 base (page 002);
# outputs this large are encoded row by row, so memory stays at a few rows of them
MAX_OUTPUT_PIXELS = 16384 * 16384
PNG_COMPRESS_LEVEL = 1
# Run-length matching only: enlarged canvases filter to runs of zeros, and noisy inputs are not
# worth searching for longer matches (about a quarter faster on them, no larger on smooth ones).
PNG_STRATEGY = zlib.Z_RLE
CACHE_MAX_BYTES = 64 * 1024 * 1024
BOX_COLOUR = (255, 40, 40)
MASK_COLOUR = (255, 0, 255)  # magenta: a colour few inputs are made of
MASK_OPACITY = 0.5
TEXT_COLOUR = (255, 255, 255)
WATERMARK_COLOUR = (245, 245, 245)
WATERMARK_TEXT_COLOUR = (20, 20, 20)
PANEL_DARKNESS = 0.55  # how much the text panels darken what lies under them
MAX_PROMPT_LINES = 6
ELLIPSIS = "\u2026"

Box = Sequence[float]
Swatch = tuple[str, float]


@dataclass(frozen=True)
class Input:
    """One input image as drawn: decoded (None: not read, a numbered placeholder), its boxes in
    its own pixels, and its inpainting mask (same size, white = edit) if it has one."""

    image: Image.Image | None
    boxes: Sequence[Box] = ()
    mask: Image.Image | None = None


@dataclass(frozen=True)
class Fit:
    """Where the fitted input sits on the canvas, and its original size (for mapping boxes)."""

    left: int
    top: int
    width: int
    height: int
    source_width: int
    source_height: int

    def map_box(self, box: Box) -> tuple[int, int, int, int]:
        """A box in input pixels -> the same box in canvas pixels, corners ordered."""
        sx = self.width / self.source_width
        sy = self.height / self.source_height
        xs = sorted((self.left + box[0] * sx, self.left + box[2] * sx))
        ys = sorted((self.top + box[1] * sy, self.top + box[3] * sy))
        return round(xs[0]), round(ys[0]), round(xs[1]), round(ys[1])


class PngCache:
    """A thread-safe LRU of rendered PNGs, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[bytes, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            png = self._items.get(key)
            if png is not None:
                self._items.move_to_end(key)
            return png

    def put(self, key: bytes, png: bytes) -> None:
        if len(png) > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = png
            self._size += len(png)
            while self._size > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0

    @property
    def nbytes(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._items)


_LOAD_LOCK = threading.Lock()  # a lazily opened PIL image must not be loaded by two threads at once


def draw_png(
    width: int,
    height: int,
    seed: int | None,
    prompt: str,
    inputs: Sequence[Input] = (),
    palette: Sequence[Swatch] = (),
    index: int = 0,
    cache: PngCache | None = None,
    watermark: str | None = None,
) -> bytes:
    """A PNG of exactly `width` x `height` showing what was asked; same arguments, same bytes.

    With a `cache`, a render already in it is returned from it instead of drawn again.
    """
    _check_size(width, height)
    scale = math.ceil(max(width, height) / CANVAS_MAX_SIDE)
    canvas_size = (math.ceil(width / scale), math.ceil(height / scale))
    # the inputs stay clear of the palette strip
    layers = _layout(inputs, (canvas_size[0], canvas_size[1] - _strip_height(canvas_size, palette)))
    digest = _digest(width, height, seed, prompt, layers, palette, index)
    # the watermark is drawn over the picture: it keys the cache, not the randomness
    key = digest + (watermark or "").encode()
    png = cache.get(key) if cache is not None else None
    if png is None:
        canvas = _draw(canvas_size, digest, seed, prompt, layers, palette, index, watermark)
        png = _encode(canvas) if scale == 1 else _encode_enlarged(canvas, (width, height))
        if cache is not None:
            cache.put(key, png)
    return png


async def draw_png_async(
    width: int,
    height: int,
    seed: int | None,
    prompt: str,
    inputs: Sequence[Input] = (),
    palette: Sequence[Swatch] = (),
    index: int = 0,
    *,
    cache: PngCache | None = None,
    executor: Executor | None = None,
) -> bytes:
    """`draw_png` in `executor` (the loop's default when None): the event loop never waits on
    Pillow."""
    call = functools.partial(draw_png, width, height, seed, prompt, inputs, palette, index, cache)
    return await asyncio.get_running_loop().run_in_executor(executor, call)


def _check_size(width: int, height: int) -> None:
    if not (isinstance(width, int) and isinstance(height, int)) or width < 1 or height < 1:
        raise ValueError(f"output size must be positive integers, got {width!r}x{height!r}")
    if width * height > MAX_OUTPUT_PIXELS:
        raise ValueError(f"output size {width}x{height} exceeds {MAX_OUTPUT_PIXELS} pixels")


@dataclass(frozen=True)
class _Layer:
    """One input laid out: its number, its cell on the canvas, and where its image sits in it."""

    number: int
    cell: tuple[int, int, int, int]  # left, top, width, height
    boxes: Sequence[Box]
    fitted: Image.Image | None = None
    placement: Fit | None = None
    mask: Image.Image | None = None  # fitted like the image, mode "L"


def _cells(count: int, canvas_size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """One cell for one input (the whole canvas); for more, a near-square grid with gaps."""
    cw, ch = canvas_size
    if count <= 1:
        return [(0, 0, cw, ch)][:count]
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    gap = max(2, min(cw, ch) // 40)
    width = max(1, (cw - gap * (columns + 1)) // columns)
    height = max(1, (ch - gap * (rows + 1)) // rows)
    return [
        (gap + (i % columns) * (width + gap), gap + (i // columns) * (height + gap), width, height)
        for i in range(count)
    ]


def _layout(inputs: Sequence[Input], canvas_size: tuple[int, int]) -> list[_Layer]:
    """Each input fitted into its cell, its mask fitted the same way; an input not read is a
    placeholder cell among others, and nothing alone."""
    layers = []
    cells = _cells(len(inputs), canvas_size)
    for number, (item, cell) in enumerate(zip(inputs, cells, strict=True), 1):
        if item.image is None:
            if len(inputs) > 1:
                layers.append(_Layer(number, cell, ()))
            continue
        fitted, placement = _fit(item.image, cell)
        mask = None
        if item.mask is not None:
            with _LOAD_LOCK:
                item.mask.load()
            mask = item.mask.convert("L").resize(fitted.size, Image.Resampling.BILINEAR)
        layers.append(_Layer(number, cell, item.boxes, fitted, placement, mask))
    return layers


def _fit(image: Image.Image, cell: tuple[int, int, int, int]) -> tuple[Image.Image, Fit]:
    """The input scaled to fit inside `cell` (aspect kept, centred), as RGB or RGBA."""
    with _LOAD_LOCK:
        image.load()
    left, top, cw, ch = cell
    ratio = min(cw / image.width, ch / image.height)
    width = max(1, round(image.width * ratio))
    height = max(1, round(image.height * ratio))
    rgb = _as_rgb(image)
    factor = min(rgb.width // width, rgb.height // height)
    if (
        factor >= 2
    ):  # a box reduction first: resizing straight down from 8000 px is several times slower
        rgb = rgb.reduce(factor)
    fitted = rgb.resize((width, height), Image.Resampling.BILINEAR)
    return fitted, Fit(
        left + (cw - width) // 2,
        top + (ch - height) // 2,
        width,
        height,
        image.width,
        image.height,
    )


def _as_rgb(image: Image.Image) -> Image.Image:
    """RGBA when the input has any transparency, else RGB; grey for modes Pillow cannot convert."""
    transparent = "A" in image.getbands() or "transparency" in image.info
    target = "RGBA" if transparent else "RGB"
    if image.mode == target:
        return image
    try:
        return image.convert(target)
    except ValueError:
        return Image.new("RGB", image.size, (128, 128, 128))


def _digest(
    width: int,
    height: int,
    seed: int | None,
    prompt: str,
    layers: Sequence[_Layer],
    palette: Sequence[Swatch],
    index: int,
) -> bytes:
    """A stable hash of all that shapes the picture under its watermark: the randomness's seed,
    and the cache key with the watermark."""
    described = [
        width,
        height,
        seed,
        prompt,
        index,
        palette,
        [
            (layer.cell, layer.boxes, layer.placement and layer.placement.__dict__)
            for layer in layers
        ],
    ]
    digest = hashlib.sha256(
        json.dumps(described, ensure_ascii=False, default=repr).encode("utf-8", "replace")
    )
    for layer in layers:
        for image in (layer.fitted, layer.mask):
            if image is not None:
                digest.update(image.mode.encode())
                digest.update(image.tobytes())
    return digest.digest()


def _draw(
    canvas_size: tuple[int, int],
    digest: bytes,
    seed: int | None,
    prompt: str,
    layers: Sequence[_Layer],
    palette: Sequence[Swatch],
    index: int,
    watermark: str | None,
) -> Image.Image:
    """Compose the picture on a canvas of `canvas_size`."""
    canvas = _background(canvas_size, random.Random(digest), _swatches(palette))
    for layer in layers:
        _draw_layer(canvas, layer)
    strip_height = _draw_palette(canvas, palette)
    _draw_prompt(canvas, prompt)
    if len(layers) > 1:
        for layer in layers:
            _draw_number(canvas, layer)
    caption_top = _draw_caption(canvas, caption(seed, index), strip_height)
    if watermark:
        _draw_watermark(canvas, watermark, caption_top)
    return canvas


def _draw_layer(canvas: Image.Image, layer: _Layer) -> None:
    """An input in its place: its image (a grey cell if it was not read), its mask, its boxes."""
    if layer.fitted is None or layer.placement is None:
        left, top, width, height = layer.cell
        _darken(canvas, (left, top, left + width, top + height))
        return
    fitted, placement = layer.fitted, layer.placement
    canvas.paste(fitted, (placement.left, placement.top), fitted if fitted.mode == "RGBA" else None)
    if layer.mask is not None:
        tint = Image.new("RGB", fitted.size, MASK_COLOUR)
        region = canvas.crop(
            (
                placement.left,
                placement.top,
                placement.left + fitted.width,
                placement.top + fitted.height,
            )
        )
        opacity = layer.mask.point(lambda value: round(value * MASK_OPACITY))
        canvas.paste(Image.composite(tint, region, opacity), (placement.left, placement.top))
    _draw_boxes(canvas, placement, layer.boxes)


def _draw_number(canvas: Image.Image, layer: _Layer) -> None:
    """The input's number ("image 1", "图1" in the documents) at its cell's bottom left."""
    left, top, width, height = layer.cell
    font = _font(max(10, min(32, round(min(width, height) / 8))))
    text = str(layer.number)
    x0, y0, x1, y1 = (round(v) for v in font.getbbox(text))
    pad = 3
    box = (left, max(top, top + height - (y1 - y0) - 2 * pad), left + (x1 - x0) + 2 * pad)
    _darken(canvas, (*box, top + height))
    ImageDraw.Draw(canvas).text(
        (box[0] + pad - x0, box[1] + pad - y0), text, font=font, fill=TEXT_COLOUR
    )


def caption(seed: int | None, index: int) -> str:
    """The small print on every result: who made it, from which seed, which image of the task."""
    return f"wanform emulator \u00b7 seed {'-' if seed is None else seed} \u00b7 {index}"


def _background(
    size: tuple[int, int],
    rng: random.Random,
    swatches: Sequence[tuple[tuple[int, int, int], float]] = (),
) -> Image.Image:
    """A soft seeded gradient: a 3x3 grid of colours, smoothly enlarged; the palette's colours,
    picked by their ratios, when there is one, else random ones."""
    if swatches:
        picked = rng.choices([rgb for rgb, _ in swatches], [share for _, share in swatches], k=9)
        colours = bytes(channel for rgb in picked for channel in rgb)
    else:
        colours = bytes(rng.randrange(40, 216) for _ in range(27))
    return Image.frombytes("RGB", (3, 3), colours).resize(size, Image.Resampling.BICUBIC)


def _line_width(canvas: Image.Image) -> int:
    return max(2, round(min(canvas.size) / 256))


def _draw_boxes(canvas: Image.Image, placement: Fit, bboxes: Sequence[Box]) -> None:
    draw = ImageDraw.Draw(canvas)
    for box in bboxes:
        if len(box) == 4:
            draw.rectangle(placement.map_box(box), outline=BOX_COLOUR, width=_line_width(canvas))


def _swatches(palette: Sequence[Swatch]) -> list[tuple[tuple[int, int, int], float]]:
    """Parsable colours with positive ratios; the rest is left out rather than fail the render."""
    out = []
    for hex_colour, ratio in palette:
        try:
            rgb = ImageColor.getrgb(str(hex_colour))[:3]
            share = float(ratio)
        except (ValueError, TypeError):
            continue
        if share > 0 and math.isfinite(share):
            out.append((rgb, share))
    return out


def _strip_height(canvas_size: tuple[int, int], palette: Sequence[Swatch]) -> int:
    """The palette strip's height on a canvas of `canvas_size`: 0 without a usable palette."""
    return max(3, canvas_size[1] // 14) if _swatches(palette) else 0


def _draw_palette(canvas: Image.Image, palette: Sequence[Swatch]) -> int:
    """A strip along the bottom, each colour as wide as its ratio; the strip's height (0: none)."""
    swatches = _swatches(palette)
    if not swatches:
        return 0
    total = sum(share for _, share in swatches)
    width, height = canvas.size
    strip = _strip_height(canvas.size, palette)
    draw = ImageDraw.Draw(canvas)
    done = 0.0
    for rgb, share in swatches:
        left = round(width * done / total)
        done += share
        right = round(width * done / total)
        if right > left:
            draw.rectangle((left, height - strip, right - 1, height - 1), fill=rgb)
    return strip


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _printable(text: str) -> str:
    """Control, format and separator characters become spaces; runs of spaces become one."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _split_word(
    word: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int
) -> list[str]:
    """A word wider than the line, cut into pieces that fit (CJK prompts have no spaces)."""
    pieces = []
    piece = ""
    for ch in word:
        if piece and font.getlength(piece + ch) > width:
            pieces.append(piece)
            piece = ""
        piece += ch
    return pieces + [piece]


def _wrap(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, max_lines: int
) -> list[str]:
    """Greedy word wrap into at most `max_lines`; a cut-off text ends with an ellipsis."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        for piece in _split_word(word, font, width) if font.getlength(word) > width else [word]:
            candidate = f"{line} {piece}" if line else piece
            if not line or font.getlength(candidate) <= width:
                line = candidate
                continue
            lines.append(line)
            line = piece
            if len(lines) == max_lines:
                return _ellipsize(lines, font, width)
    return lines + [line] if line else lines


def _ellipsize(
    lines: list[str], font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int
) -> list[str]:
    last = lines[-1]
    while last and font.getlength(last + ELLIPSIS) > width:
        last = last[:-1]
    return lines[:-1] + [last + ELLIPSIS]


def _darken(canvas: Image.Image, box: tuple[int, int, int, int]) -> None:
    """Dim a region so white text on it stays readable over any picture."""
    region = canvas.crop(box)
    canvas.paste(Image.blend(region, Image.new("RGB", region.size), PANEL_DARKNESS), box[:2])


def _draw_prompt(canvas: Image.Image, prompt: str) -> None:
    """The prompt, wrapped and truncated, on a dimmed panel across the top."""
    width, height = canvas.size
    size = max(10, min(48, round(width / 36)))
    font = _font(size)
    pad = max(2, size // 3)
    line_height = round(size * 1.25)
    max_lines = max(1, min(MAX_PROMPT_LINES, (height // 4) // line_height))
    # Only what can show is laid out: even the narrowest glyphs cannot fit more than this.
    visible = _printable(str(prompt)[: max_lines * (width // 2 + 1)])
    lines = _wrap(visible, font, width - 2 * pad, max_lines)
    if not lines:
        return
    _darken(canvas, (0, 0, width, min(height, 2 * pad + line_height * len(lines))))
    draw = ImageDraw.Draw(canvas)
    for row, line in enumerate(lines):
        draw.text((pad, pad + row * line_height), line, font=font, fill=TEXT_COLOUR)


def _draw_caption(canvas: Image.Image, text: str, strip_height: int) -> int:
    """A small caption at the bottom right, just above the palette strip; its top."""
    width, height = canvas.size
    font = _font(max(8, min(24, round(width / 64))))
    # whole pixels already; typed as floats because a bitmap font's box may not be
    left, top, right, bottom = (round(v) for v in font.getbbox(text))
    pad = 3
    x = max(0, width - (right - left) - 2 * pad)
    y = max(0, height - strip_height - (bottom - top) - 2 * pad)
    _darken(canvas, (x, y, width, max(y + 1, height - strip_height)))
    ImageDraw.Draw(canvas).text((x + pad - left, y + pad - top), text, font=font, fill=TEXT_COLOUR)
    return y


def _draw_watermark(canvas: Image.Image, text: str, bottom: int) -> None:
    """The watermark: a light badge with dark `text` at the right, its bottom at `bottom` (above
    the caption). The documents' "AI生成" needs CJK glyphs the bundled font lacks (the guess
    `watermark.text`)."""
    width = canvas.width
    font = _font(max(10, min(40, round(width / 32))))
    left, top, right, lower = (round(v) for v in font.getbbox(text))
    pad = max(3, (lower - top) // 3)
    box = (
        max(0, width - (right - left) - 4 * pad),
        max(0, bottom - (lower - top) - 3 * pad),
        max(1, width - pad),
        max(1, bottom - pad),
    )
    draw = ImageDraw.Draw(canvas)
    draw.rounded_rectangle(box, radius=pad, fill=WATERMARK_COLOUR, outline=WATERMARK_TEXT_COLOUR)
    draw.text(
        (box[0] + pad - left, box[1] + pad - top), text, font=font, fill=WATERMARK_TEXT_COLOUR
    )


def _encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_STRATEGY)
    return buffer.getvalue()


def _encode_enlarged(canvas: Image.Image, size: tuple[int, int]) -> bytes:
    """The PNG of an RGB `canvas` enlarged to `size` with NEAREST: Pillow's resize, pixel for pixel.

    Pillow's encoder tries all five PNG filters on every row, which is most of the time a
    2048x2048 output takes; it cannot know that the rows repeat. Here each distinct row is
    widened by Pillow on its own and written with the "Sub" filter (computed by Pillow in C), and
    each repeat of it as the "Up" filter, which is all zeros: memory holds one output row, not
    the image (a 16384x16384 output would be 805 MB raw).
    """
    width, height = size
    repeat = b"\x02" + bytes(width * 3)
    compressor = zlib.compressobj(PNG_COMPRESS_LEVEL, zlib.DEFLATED, 15, 9, PNG_STRATEGY)
    data = []
    previous = -1
    for source in _row_sources(canvas.height, height):
        row = repeat if source == previous else b"\x01" + _sub_row(canvas, source, width)
        data.append(compressor.compress(row))
        previous = source
    data.append(compressor.flush())
    header = struct.pack(
        ">IIBBBBB", width, height, 8, 2, 0, 0, 0
    )  # 8-bit RGB, deflate, no interlace
    return png.image(header, b"".join(data))


def _sub_row(canvas: Image.Image, row: int, width: int) -> bytes:
    """Canvas row `row` widened to `width` (NEAREST), PNG-"Sub"-filtered: each byte minus the
    same channel of the pixel to its left (0 left of the first)."""
    wide = canvas.crop((0, row, canvas.width, row + 1)).resize((width, 1), Image.Resampling.NEAREST)
    left_neighbours = ImageChops.offset(wide, 1, 0)
    left_neighbours.putpixel((0, 0), (0, 0, 0))
    return ImageChops.subtract_modulo(wide, left_neighbours).tobytes()


def _row_sources(rows: int, height: int) -> list[int]:
    """Which of `rows` canvas rows each of `height` output rows shows, as NEAREST picks them."""
    index = Image.frombytes(
        "I", (1, rows), array.array("i", range(rows)).tobytes()
    )  # native int32 per pixel
    return array.array("i", index.resize((1, height), Image.Resampling.NEAREST).tobytes()).tolist()
