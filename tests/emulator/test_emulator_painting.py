"""The result picture shows what the request asked: every input image with its boxes, the mask
over its image, the palette in the main area, and the watermark."""

from __future__ import annotations

import base64
import io

from aiohttp import web
from emulator_api import ASYNC, GENERATION, KEY, SYNTHESIS, Api, image_urls, wan27, wanx21
from PIL import Image

from wanform.emulator.images.draw import BOX_COLOUR
from wanform.spec.emulator.wire import UNVERIFIED_HEADER

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (40, 60, 230)
SEED = 7


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (600, 600)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def picture(api: Api, body: dict, path: str | None = None) -> Image.Image:
    """The first result of the task `body` makes, decoded."""
    task_id = await api.submit(body, **({"path": path} if path else {}))
    await api.advance(61)
    status, data = await api.download(image_urls(await api.task(task_id))[0])
    assert status == 200
    return Image.open(io.BytesIO(data)).convert("RGB")


def count(image: Image.Image, colour: tuple[int, int, int]) -> int:
    """How many pixels of `image` are exactly `colour`."""
    counts = image.getcolors(image.width * image.height) or []
    return next((n for n, c in counts if c == colour), 0)


async def test_every_input_image_shows(api):
    """Three solid inputs: each colour fills a good part of the picture (only the last did)."""
    image = await picture(
        api, wan27("x", images=tuple(map(solid, (RED, GREEN, BLUE))), seed=SEED, size="1K")
    )
    area = image.width * image.height
    assert [count(image, colour) > area // 10 for colour in (RED, GREEN, BLUE)] == [True] * 3


async def test_dropping_the_first_images_changes_the_picture(api):
    """A client that sends only the last of three images does not get the same picture."""
    images = tuple(map(solid, (RED, GREEN, BLUE)))
    whole = await picture(api, wan27("fuse", images=images, seed=SEED, size="1K"))
    last = await picture(api, wan27("fuse", images=images[-1:], seed=SEED, size="1K"))
    assert whole.tobytes() != last.tobytes()


async def test_the_boxes_of_every_image_are_drawn(api):
    """A box on image 1 of two shows, though image 2 has none."""
    body = wan27(
        "x",
        images=(solid(GREEN), solid(BLUE)),
        seed=SEED,
        size="1K",
        bbox_list=[[[100, 100, 500, 500]], []],
    )
    assert count(await picture(api, body), BOX_COLOUR) > 100


async def test_the_mask_tints_its_image_where_it_is_white(api, aiohttp_server):
    """wanx2.1 inpainting: the picture changes where the mask is white, not where it is black
    (the mask, a URL only, served from loopback)."""
    half = Image.new("L", (800, 600), 0)
    half.paste(255, (0, 0, 400, 600))
    masks = {"/white-left.png": half, "/black.png": Image.new("L", (800, 600), 0)}

    async def serve(request: web.Request) -> web.Response:
        buffer = io.BytesIO()
        masks[request.path].save(buffer, "PNG")
        return web.Response(body=buffer.getvalue(), content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    server = await aiohttp_server(app)
    body = wanx21("x", seed=SEED)
    body["input"].update(
        function="description_edit_with_mask", base_image_url=solid(BLUE, (800, 600))
    )
    drawn = []
    for name in masks:
        body["input"]["mask_image_url"] = str(server.make_url(name))
        drawn.append(await picture(api, body, SYNTHESIS))
    masked, plain = drawn
    left, right, middle = plain.width // 4, plain.width * 3 // 4, plain.height // 2
    assert masked.getpixel((left, middle)) != plain.getpixel((left, middle)) == BLUE
    assert masked.getpixel((right, middle)) == BLUE


async def test_the_palette_colours_the_main_area(api):
    """Without inputs, the picture's middle is made of the palette's colours, not random ones."""
    reds = ["#E01010", "#C02010", "#D01818"]
    palette = [
        {"hex": h, "ratio": r} for h, r in zip(reds, ["40.00%", "30.00%", "30.00%"], strict=True)
    ]
    image = await picture(api, wan27("x", seed=SEED, size="1K", color_palette=palette))
    r, g, b = image.getpixel((image.width // 2, image.height // 2))
    assert r > 150 and g < 60 and b < 60, (r, g, b)


async def test_watermark_marks_the_bottom_right(api):
    """`watermark: true` changes the bottom-right corner, and only there."""
    plain = await picture(api, wan27("x", seed=SEED, size="1K", watermark=False))
    marked = await picture(api, wan27("x", seed=SEED, size="1K", watermark=True))
    w, h = plain.size
    corner = (w * 3 // 4, h * 3 // 4, w, h)
    assert plain.crop(corner).tobytes() != marked.crop(corner).tobytes()
    assert (
        plain.crop((0, 0, w // 2, h // 2)).tobytes()
        == marked.crop((0, 0, w // 2, h // 2)).tobytes()
    )


async def test_a_watermarked_answer_names_its_guess(api):
    """The mark's text is a guess (the documents disagree): the submission says so."""
    response = await api.client.post(
        GENERATION,
        json=wan27("x", watermark=True),
        headers={**ASYNC, "Authorization": f"Bearer {KEY}"},
    )
    assert response.status == 200
    assert response.headers[UNVERIFIED_HEADER].split(",") == ["watermark.text"]
