"""The result renderer: exact sizes, same bytes, visible boxes, palette and prompt, robustness."""

from __future__ import annotations

import asyncio
import contextlib
import io
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from wanform.emulator.images import draw as render
from wanform.emulator.images.draw import (
    BOX_COLOUR,
    TEXT_COLOUR,
    Input,
    PngCache,
    draw_png,
    draw_png_async,
)

GREY = (128, 128, 128)
RGB_PALETTE = [("#ff0000", 50.0), ("#00ff00", 30.0), ("#0000ff", 20.0)]


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def chunk_types(png: bytes) -> list[bytes]:
    """The PNG chunk types in file order."""
    types = []
    offset = 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        types.append(png[offset + 4 : offset + 8])
        offset += 12 + length
    return types


@pytest.mark.parametrize(
    "size", [(800, 600), (2048, 2048), (2976, 1408), (1280, 1280), (4097, 17), (1, 1)]
)
def test_size_is_exact(size):
    """The PNG is exactly the requested width and height, drawn natively or enlarged."""
    image = decode(draw_png(*size, 7, "a cat", (), RGB_PALETTE, 0))
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", size)


@pytest.mark.parametrize(
    "size", [(2048, 2048), (2976, 1408), (2985, 1405), (1281, 7), (4097, 2304), (5, 3000)]
)
def test_enlarged_output_is_pillows_nearest_resize_of_the_canvas(size):
    """The row-repeating encoder writes exactly the pixels Pillow's own NEAREST enlargement has."""
    width, height = size
    scale = -(-max(size) // render.CANVAS_MAX_SIDE)
    canvas = Image.frombytes(
        "RGB",
        (-(-width // scale), -(-height // scale)),
        bytes((i * 7919) % 251 for i in range(3 * -(-width // scale) * -(-height // scale))),
    )
    image = decode(render._encode_enlarged(canvas, size))
    assert (image.mode, image.size) == ("RGB", size)
    assert image.tobytes() == canvas.resize(size, Image.Resampling.NEAREST).tobytes()


def test_same_arguments_give_same_bytes():
    """Rendering twice, with no cache, yields identical bytes."""
    base = Image.new("RGB", (400, 300), GREY)
    first = draw_png(1024, 768, 42, "a cat", [Input(base, [[10, 10, 50, 50]])], RGB_PALETTE, 1)
    assert (
        draw_png(1024, 768, 42, "a cat", [Input(base.copy(), [[10, 10, 50, 50]])], RGB_PALETTE, 1)
        == first
    )


def test_png_carries_no_metadata():
    """Only IHDR, IDAT and IEND chunks: no timestamp or text chunk can make bytes differ."""
    assert set(chunk_types(draw_png(640, 480, 1, "x", (), [], 0))) == {
        b"IHDR",
        b"IDAT",
        b"IEND",
    }


@pytest.mark.parametrize(
    "changed",
    [
        {"seed": 43},
        {"seed": None},
        {"prompt": "a dog"},
        {"index": 1},
        {"inputs": [Input(Image.new("RGB", (400, 300), GREY), [[10, 10, 60, 60]])]},
        {"palette": RGB_PALETTE[:2]},
        {"inputs": [Input(Image.new("RGB", (400, 300), (0, 0, 255)))]},
        {"inputs": [Input(Image.new("RGB", (400, 300), GREY))] * 2},
        {"watermark": "AI-generated"},
    ],
)
def test_any_argument_changes_the_bytes(changed):
    """Changing the seed, prompt, index, boxes, palette, inputs or watermark changes the picture."""
    arguments = {
        "width": 640,
        "height": 480,
        "seed": 42,
        "prompt": "a cat",
        "inputs": [Input(Image.new("RGB", (400, 300), GREY))],
        "palette": RGB_PALETTE,
        "index": 0,
    }
    assert draw_png(**arguments) != draw_png(**{**arguments, **changed})


@pytest.mark.parametrize("size", [(800, 600), (2048, 1536)])
def test_boxes_are_drawn_where_they_are_on_the_input(size):
    """A box in input pixels appears as an outline at the same place of the enlarged input."""
    base = Image.new("RGB", (400, 300), GREY)
    x1, y1, x2, y2 = 100, 150, 300, 250
    image = decode(draw_png(*size, 1, "a cat", [Input(base, [[x1, y1, x2, y2]])], [], 0))
    ratio = size[0] / 400
    middle = round((y1 + y2) / 2 * ratio)
    assert image.getpixel((round(x1 * ratio) + 1, middle)) == BOX_COLOUR
    assert image.getpixel((round(x2 * ratio) - 1, middle)) == BOX_COLOUR
    assert image.getpixel((round((x1 + x2) / 2 * ratio), middle)) == GREY


@pytest.mark.parametrize("scale", [1, 2])
def test_palette_strip_widths_follow_the_ratios(scale):
    """The bottom strip is red for the first 50%, green for the next 30%, blue for the last 20%."""
    image = decode(draw_png(1000 * scale, 700 * scale, 1, "p", (), RGB_PALETTE, 0))
    bottom = 700 * scale - 2
    assert [image.getpixel((x * scale, bottom)) for x in (0, 499, 500, 799, 800, 999)] == [
        (255, 0, 0),
        (255, 0, 0),
        (0, 255, 0),
        (0, 255, 0),
        (0, 0, 255),
        (0, 0, 255),
    ]


def test_unusable_swatches_are_left_out():
    """A colour that does not parse or a ratio of zero takes no room in the strip."""
    palette = [("#ff0000", 50.0), ("not a colour", 25.0), ("#00ff00", 0.0), ("#0000ff", 50.0)]
    image = decode(draw_png(1000, 700, 1, "p", (), palette, 0))
    assert [image.getpixel((x, 698)) for x in (499, 500)] == [(255, 0, 0), (0, 0, 255)]


def test_prompt_is_written_on_a_panel_at_the_top():
    """White text appears in the top band only when there is a prompt."""

    def whites(prompt: str) -> int:
        band = decode(draw_png(800, 600, 1, prompt, (), [], 0)).crop((0, 0, 800, 40))
        return sum(count for count, colour in band.getcolors(800 * 40) if colour == TEXT_COLOUR)

    assert whites("") == 0
    assert whites("HELLO WORLD") > 0


@pytest.mark.parametrize(
    "prompt",
    [
        "word " * 40_000,
        "x" * 200_000,
        "一只猫坐在窗台上" * 5000,
        "\x00\u200f\ud800 tab\tnew\nline \U0001f600 مرحبا",
        "   ",
    ],
)
def test_any_prompt_renders(prompt):
    """Huge, unbroken, CJK, control-character and blank prompts all render at the requested size."""
    assert decode(draw_png(1280, 720, 1, prompt, (), [], 0)).size == (1280, 720)


def test_long_prompt_is_truncated_with_an_ellipsis():
    """A prompt longer than the panel ends in an ellipsis on its last line."""
    font = render._font(22)
    lines = render._wrap(render._printable("word " * 1000), font, 780, 3)
    assert (len(lines), lines[-1][-1]) == (3, render.ELLIPSIS)


def test_unbroken_text_is_cut_to_the_line_width():
    """A run without spaces (a CJK prompt) is split so that no line is wider than the panel."""
    font = render._font(22)
    lines = render._wrap("猫" * 300, font, 300, 10)
    assert len(lines) > 1
    assert max(font.getlength(line) for line in lines) <= 300


def rgba_half_transparent() -> Image.Image:
    image = Image.new("RGBA", (400, 300), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (200, 0, 400, 300))
    return image


def palette_with_transparency() -> Image.Image:
    image = Image.new("P", (400, 300), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])
    image.paste(0, (200, 0, 400, 300))
    image.info["transparency"] = 0
    return image


def grey_alpha() -> Image.Image:
    image = Image.new("LA", (400, 300), (255, 255))
    image.paste((0, 0), (200, 0, 400, 300))
    return image


@pytest.mark.parametrize("make", [rgba_half_transparent, palette_with_transparency, grey_alpha])
def test_transparent_input_shows_the_background_through(make):
    """Opaque input pixels are kept; fully transparent ones show the (never black) background."""
    image = decode(draw_png(800, 600, 1, "", [Input(make())], [], 0))
    assert image.getpixel((200, 300)) in {(255, 0, 0), (255, 255, 255)}
    assert image.getpixel((600, 300)) != (0, 0, 0)


@pytest.mark.parametrize(
    "mode", ["1", "L", "P", "I;16", "I", "F", "CMYK", "YCbCr", "LAB", "HSV", "La"]
)
def test_any_input_mode_renders(mode):
    """Inputs in every Pillow mode render; a mode Pillow cannot convert becomes a grey stand-in."""
    assert decode(
        draw_png(640, 480, 1, "p", [Input(Image.new(mode, (320, 240)), [[0, 0, 10, 10]])], [], 0)
    ).size == (640, 480)


def test_large_input_is_fitted_inside_the_output():
    """An input much larger than the output is reduced to fit, its aspect kept and centred."""
    base = Image.new("RGB", (6000, 1500), GREY)
    image = decode(draw_png(1024, 1024, 1, "", [Input(base)], [], 0))
    assert image.getpixel((512, 512)) == GREY  # 6000x1500 fits as 1024x256, rows 384 to 639
    assert image.getpixel((512, 300)) != GREY


def test_degenerate_boxes_do_not_fail():
    """Inverted, out-of-range and malformed boxes are drawn as ordered rectangles or skipped."""
    base = Image.new("RGB", (400, 300), GREY)
    boxes = [[300, 250, 100, 150], [-50, -50, 9000, 9000], [1, 2, 3]]
    assert decode(draw_png(800, 600, 1, "", [Input(base, boxes)], [], 0)).size == (800, 600)


@pytest.mark.parametrize("size", [(0, 10), (10, -1), (16385, 16384), (10.5, 10)])
def test_unrenderable_sizes_are_refused(size):
    """Non-positive, non-integer and oversized outputs raise ValueError, not exhaust memory."""
    with pytest.raises(ValueError):
        draw_png(*size, 1, "", (), [], 0)


def test_repeated_render_comes_from_the_cache():
    """With a cache a second identical render returns the cached bytes object; without, new ones."""
    cache = PngCache(1024 * 1024)
    first = draw_png(640, 480, 1, "cached", (), [], 0, cache)
    again = draw_png(640, 480, 1, "cached", (), [], 0, cache)
    uncached = draw_png(640, 480, 1, "cached", (), [], 0)
    assert (again is first, uncached is first, uncached == first, len(cache)) == (
        True,
        False,
        True,
        1,
    )


def test_cache_is_bounded_by_bytes():
    """The cache evicts least recently used entries once their total size exceeds the bound."""
    cache = PngCache(10)
    cache.put(b"a", b"1234")
    cache.put(b"b", b"5678")
    cache.get(b"a")
    cache.put(b"c", b"9012")
    cache.put(b"huge", b"x" * 11)
    assert ([cache.get(k) for k in (b"a", b"b", b"c", b"huge")], cache.nbytes) == (
        [b"1234", None, b"9012", None],
        8,
    )


async def test_async_render_runs_in_the_given_executor():
    """draw_png_async gives the same bytes as draw_png, computed on the executor's thread."""
    threads = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            threads.append(fn)
            return super().submit(fn, *args, **kwargs)

    with Recording(max_workers=1) as executor:
        png = await draw_png_async(640, 480, 3, "async", (), RGB_PALETTE, 2, executor=executor)
    assert (png, len(threads)) == (draw_png(640, 480, 3, "async", (), RGB_PALETTE, 2), 1)


async def test_async_render_leaves_the_loop_free():
    """While a large render runs, other coroutines on the loop keep running."""
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    await draw_png_async(
        2048, 2048, 1, "busy", [Input(Image.effect_noise((1024, 1024), 50))], [], 0
    )
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert ticks > 3


def test_the_largest_output_is_encoded_in_bounded_memory():
    """A 16384x16384 result (805 MB as raw RGB) is written row by row: the process stays small."""
    # VmHWM: this process's peak resident memory (ru_maxrss would carry the parent's over exec)
    code = (
        "import re; from wanform.emulator.images.draw import draw_png; "
        "png = draw_png(16384, 16384, 1, 'a prompt', (), [], 0); "
        "status = open('/proc/self/status').read(); "
        "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status)[1]) // 1024, len(png))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    peak_mb, nbytes = map(int, done.stdout.split())
    assert peak_mb < 150 and nbytes > 0  # whole-image encoding peaked above 400 MB
