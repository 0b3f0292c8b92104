"""Draw the input images of the example recipes into recipes/images/ (and the catalogue's into
recipes/catalogue/), byte for byte the same on every run.

Each picture names the models whose recipes read it and is checked against their input limits in
wanform.spec.models (under every documented variant) before it is written. `--check` writes nothing
and
exits 1 when a committed image differs from what this script draws. Run it where the project is
installed (`pip install -e .`), since it imports wanform.spec.models.
"""

from __future__ import annotations

import argparse
import functools
import io
import math
import random
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from wanform.spec.models import GUESSES, MODELS, ModelSpec, table

OUT = Path(__file__).resolve().parent.parent / "recipes"
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}
# Encoder options chosen for small files; none of them writes a timestamp or other varying metadata.
SAVE_OPTIONS = {
    "PNG": {"optimize": True},
    "JPEG": {"quality": 85, "optimize": True},
    "WEBP": {"lossless": True, "quality": 100, "method": 6},
}

WAN27 = ("wan2.7-image-pro", "wan2.7-image")
WAN26, WAN25, WANX21 = "wan2.6-image", "wan2.5-i2i-preview", "wanx2.1-imageedit"

# Boxes ([x1, y1, x2, y2], pixels) that recipes' `bboxes` point at; the drawings are laid out around
# them.
VASE = (600, 60, 740, 402)
EMPTY_SPOT = (300, 300, 470, 402)
CLOCK = (100, 130, 476, 612)
CAR_DOOR = (420, 300, 640, 400)
MEADOW = (140, 420, 460, 620)
HOUSE = (600, 330, 800, 470)
BOXES = {
    "table-vase.png": {"vase": VASE, "empty spot": EMPTY_SPOT},
    "alarm-clock.png": {"clock": CLOCK},
    "car.png": {"door": CAR_DOOR},
    "landscape.png": {"meadow": MEADOW, "house": HOUSE},
}

# The smallest side super_resolution accepts: the lowest-resolution input a recipe can give it.
LOW_RES_SIDE = int(MODELS[WANX21].image.side.low)

INK = (20, 20, 20)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font, so the text renders the same on every machine."""
    return ImageFont.load_default(size=size)


def vertical_gradient(img: Image.Image, top: tuple, bottom: tuple, y0: int, y1: int) -> None:
    """Fill rows y0..y1 of `img` with a linear blend from `top` to `bottom`."""
    draw = ImageDraw.Draw(img)
    for y in range(y0, y1):
        t = (y - y0) / max(1, y1 - y0 - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (img.width, y)], fill=colour[0] if img.mode == "L" else colour)


def draw_table_vase() -> Image.Image:
    """A dining table against a wall,
    a vase of flowers on the right and an empty spot on the left."""
    img = Image.new("RGB", (1024, 576), (236, 226, 208))
    d = ImageDraw.Draw(img)
    d.rectangle((80, 40, 330, 240), fill=WHITE)
    d.rectangle((92, 52, 318, 228), fill=(170, 205, 235))
    d.line([(205, 52), (205, 228)], fill=WHITE, width=8)
    d.line([(92, 140), (318, 140)], fill=WHITE, width=8)
    d.rectangle((0, 470, 1024, 576), fill=(176, 146, 112))
    d.polygon([(40, 400), (984, 400), (1004, 440), (20, 440)], fill=(150, 96, 56))
    d.rectangle((20, 440, 1004, 470), fill=(112, 70, 40))
    for x in (60, 924):
        d.rectangle((x, 470, x + 40, 576), fill=(112, 70, 40))
    stem_top = (670, 205)
    for bloom, colour in (
        ((630, 110), (230, 80, 90)),
        ((672, 86), (250, 200, 60)),
        ((712, 118), (240, 130, 170)),
    ):
        d.line([stem_top, bloom], fill=(60, 120, 50), width=5)
        d.ellipse((bloom[0] - 24, bloom[1] - 24, bloom[0] + 24, bloom[1] + 24), fill=colour)
        d.ellipse((bloom[0] - 8, bloom[1] - 8, bloom[0] + 8, bloom[1] + 8), fill=(120, 70, 30))
    d.ellipse((610, 250, 730, 402), fill=(40, 120, 140))
    d.rectangle((645, 205, 695, 270), fill=(40, 120, 140))
    d.ellipse((632, 195, 708, 217), fill=(30, 95, 112))
    d.ellipse((330, 392, 440, 408), fill=(128, 82, 46))
    return img


def draw_vase_mask() -> Image.Image:
    """The description_edit_with_mask mask: pure white over the vase, pure black elsewhere."""
    img = Image.new("RGB", (1024, 576), BLACK)
    x1, y1, x2, y2 = VASE
    ImageDraw.Draw(img).ellipse((x1 - 16, y1 - 16, x2 + 16, y2 + 8), fill=WHITE)
    return img


def draw_alarm_clock() -> Image.Image:
    """A red twin-bell alarm clock standing on a wooden shelf."""
    img = Image.new("RGB", (576, 768), (210, 225, 235))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 600, 576, 768), fill=(170, 120, 80))
    cx, cy, r = 288, 380, 160
    d.line([(200, 500), (150, 605)], fill=INK, width=14)
    d.line([(376, 500), (426, 605)], fill=INK, width=14)
    for bx in (168, 408):
        d.pieslice((bx - 62, 150, bx + 62, 274), 180, 360, fill=(220, 180, 60))
    d.rectangle((278, 170, 298, 226), fill=INK)
    d.arc((200, 140, 376, 240), 200, 340, fill=INK, width=10)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(200, 40, 40))
    d.ellipse((cx - 130, cy - 130, cx + 130, cy + 130), fill=(250, 248, 240))
    for hour in range(12):
        a = math.radians(hour * 30)
        inner = 100 if hour % 3 else 88
        d.line(
            [
                (cx + round(inner * math.sin(a)), cy - round(inner * math.cos(a))),
                (cx + round(118 * math.sin(a)), cy - round(118 * math.cos(a))),
            ],
            fill=INK,
            width=6,
        )
    d.line([(cx, cy), (cx + 55, cy - 40)], fill=INK, width=10)
    d.line([(cx, cy), (cx - 20, cy - 95)], fill=INK, width=6)
    d.ellipse((cx - 10, cy - 10, cx + 10, cy + 10), fill=INK)
    return img


def draw_car() -> Image.Image:
    """The side view of a blue hatchback on a road."""
    img = Image.new("RGB", (1024, 576), (225, 232, 240))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 440, 1024, 576), fill=(90, 90, 95))
    for x in range(20, 1024, 120):
        d.rectangle((x, 520, x + 60, 530), fill=(240, 240, 240))
    d.polygon(
        [
            (120, 410),
            (135, 320),
            (300, 298),
            (400, 218),
            (660, 214),
            (790, 298),
            (905, 318),
            (920, 410),
        ],
        fill=(30, 90, 200),
    )
    d.polygon([(418, 236), (648, 232), (752, 296), (330, 302)], fill=(180, 215, 240))
    d.line([(535, 234), (535, 300)], fill=(30, 90, 200), width=12)
    d.line([(CAR_DOOR[0], 302), (CAR_DOOR[0], 398)], fill=(20, 60, 140), width=4)
    d.line([(CAR_DOOR[2], 300), (CAR_DOOR[2], 398)], fill=(20, 60, 140), width=4)
    d.rectangle((560, 330, 600, 340), fill=(20, 60, 140))
    d.ellipse((880, 330, 912, 352), fill=(255, 240, 180))
    for wx in (270, 770):
        d.ellipse((wx - 62, 348, wx + 62, 472), fill=INK)
        d.ellipse((wx - 28, 382, wx + 28, 438), fill=(170, 170, 175))
    return img


def draw_graffiti() -> Image.Image:
    """A pink-and-cyan graffiti tag with drips and spray dots on a brick wall."""
    img = Image.new("RGB", (768, 512), (200, 190, 180))
    d = ImageDraw.Draw(img)
    for row, y in enumerate(range(0, 512, 40)):
        offset = 0 if row % 2 else -48
        for x in range(offset, 768, 96):
            d.rectangle((x + 3, y + 3, x + 93, y + 37), fill=(170, 80, 60))
    tag = font(190)
    d.text(
        (392, 262),
        "WAN!",
        font=tag,
        anchor="mm",
        fill=(40, 220, 255),
        stroke_width=12,
        stroke_fill=INK,
    )
    d.text(
        (384, 250),
        "WAN!",
        font=tag,
        anchor="mm",
        fill=(255, 60, 170),
        stroke_width=6,
        stroke_fill=INK,
    )
    rng = random.Random(7)
    for x in range(130, 640, 46):
        d.line([(x, 330), (x, 330 + rng.randrange(20, 90))], fill=(255, 60, 170), width=6)
    for _ in range(260):
        x, y, s = rng.randrange(60, 708), rng.randrange(60, 460), rng.randrange(2, 6)
        d.ellipse((x, y, x + s, y + s), fill=rng.choice([(255, 60, 170), (40, 220, 255)]))
    return img


def draw_portrait() -> Image.Image:
    """A head-and-shoulders figure: a woman with dark hair in a green top."""
    img = Image.new("RGB", (768, 1024), (190, 210, 200))
    d = ImageDraw.Draw(img)
    skin = (230, 190, 160)
    d.ellipse((234, 270, 534, 680), fill=(60, 40, 30))
    d.ellipse((134, 720, 634, 1260), fill=(60, 110, 80))
    d.rectangle((344, 560, 424, 740), fill=skin)
    d.ellipse((264, 300, 504, 600), fill=skin)
    d.chord((254, 270, 514, 420), 180, 360, fill=(60, 40, 30))
    for ex in (335, 433):
        d.ellipse((ex - 16, 430, ex + 16, 452), fill=WHITE)
        d.ellipse((ex - 8, 433, ex + 8, 449), fill=(60, 40, 30))
        d.line([(ex - 22, 415), (ex + 20, 410)], fill=(60, 40, 30), width=5)
    d.line([(384, 455), (374, 500), (392, 502)], fill=(190, 140, 115), width=4)
    d.arc((340, 500, 428, 545), 20, 160, fill=(190, 60, 70), width=7)
    return img


def draw_landscape() -> Image.Image:
    """Hills under a blue sky with the sun, mountains, trees and a small red-roofed house."""
    img = Image.new("RGB", (1024, 640), (200, 225, 245))
    vertical_gradient(img, (110, 165, 230), (205, 228, 246), 0, 360)
    d = ImageDraw.Draw(img)
    d.ellipse((770, 60, 870, 160), fill=(255, 220, 90))
    d.polygon([(-40, 380), (220, 150), (420, 380)], fill=(120, 130, 160))
    d.polygon([(250, 380), (520, 120), (820, 380)], fill=(100, 112, 145))
    d.polygon([(468, 170), (520, 120), (572, 170), (540, 160), (520, 175), (500, 160)], fill=WHITE)
    d.ellipse((-300, 340, 700, 1000), fill=(90, 160, 80))
    d.ellipse((380, 360, 1400, 1000), fill=(110, 180, 90))
    x1, y1, x2, y2 = HOUSE
    d.rectangle((x1 + 20, y1 + 60, x2 - 20, y2), fill=(230, 200, 160))
    d.polygon([(x1, y1 + 62), ((x1 + x2) // 2, y1), (x2, y1 + 62)], fill=(170, 60, 50))
    d.rectangle((685, 420, 715, y2), fill=(110, 70, 40))
    for wx in (635, 730):
        d.rectangle((wx, 405, wx + 35, 435), fill=(170, 205, 235))
    d.polygon([(685, y2), (715, y2), (760, 640), (640, 640)], fill=(200, 180, 140))
    for tx, ty in ((540, 360), (880, 390), (940, 420)):
        d.rectangle((tx - 8, ty, tx + 8, ty + 70), fill=(110, 70, 40))
        d.ellipse((tx - 45, ty - 80, tx + 45, ty + 20), fill=(50, 120, 60))
    return img


def draw_living_room_sketch() -> Image.Image:
    """A black-on-white line doodle of a living room: sofa, lamp, window, plant, rug."""
    img = Image.new("L", (768, 768), 255)
    d = ImageDraw.Draw(img)
    line = {"fill": 0, "width": 5}
    d.line([(0, 560), (768, 560)], **line)
    d.rectangle((440, 120, 690, 360), outline=0, width=5)
    d.line([(565, 120), (565, 360)], **line)
    d.line([(440, 240), (690, 240)], **line)
    d.rounded_rectangle((80, 400, 420, 560), radius=30, outline=0, width=5)
    d.rounded_rectangle((60, 430, 120, 560), radius=20, outline=0, width=5)
    d.rounded_rectangle((380, 430, 440, 560), radius=20, outline=0, width=5)
    d.line([(250, 410), (250, 500)], **line)
    d.line([(120, 500), (380, 500)], **line)
    d.rectangle((150, 180, 350, 320), outline=0, width=5)
    d.line([(165, 300), (220, 230), (260, 280), (290, 250), (335, 300)], **line)
    d.line([(540, 300), (540, 560)], **line)
    d.polygon([(490, 300), (590, 300), (570, 230), (510, 230)], outline=0, width=5)
    d.polygon([(640, 480), (720, 480), (705, 560), (655, 560)], outline=0, width=5)
    for dx in (-40, -15, 15, 40):
        d.arc((660 + dx - 30, 380, 660 + dx + 50, 490), 200, 330, fill=0, width=5)
    d.ellipse((130, 590, 640, 700), outline=0, width=5)
    return img


def draw_grayscale_leaves() -> Image.Image:
    """A black-and-white photo of a leafy branch against a plain backdrop, for colorization."""
    img = Image.new("L", (768, 768), 0)
    vertical_gradient(img, (150,), (95,), 0, 768)
    d = ImageDraw.Draw(img)
    d.line([(120, 720), (384, 384), (640, 90)], fill=60, width=14)
    for i, t in enumerate(x / 10 for x in range(1, 10)):
        bx, by = 120 + (640 - 120) * t, 720 - (720 - 90) * t
        side = 1 if i % 2 else -1
        angle = math.radians(-50 + side * 60)
        tip = (bx + 150 * math.cos(angle) * side, by + 150 * math.sin(angle))
        normal = (-(tip[1] - by) * 0.3, (tip[0] - bx) * 0.3)
        mid = ((bx + tip[0]) / 2, (by + tip[1]) / 2)
        leaf = [
            (bx, by),
            (mid[0] + normal[0], mid[1] + normal[1]),
            tip,
            (mid[0] - normal[0], mid[1] - normal[1]),
        ]
        d.polygon([(round(x), round(y)) for x, y in leaf], fill=205 - 6 * i)
        d.line([(round(bx), round(by)), (round(tip[0]), round(tip[1]))], fill=120, width=3)
    return img


def draw_low_res_flower() -> Image.Image:
    """A sunflower drawn at 96 px and blown up to the smallest accepted side,
    so it looks soft and blocky."""
    small = Image.new("RGB", (96, 96), (120, 180, 230))
    d = ImageDraw.Draw(small)
    d.rectangle((0, 70, 96, 96), fill=(80, 150, 70))
    d.line([(48, 48), (48, 96)], fill=(50, 110, 40), width=4)
    for k in range(12):
        a = math.radians(k * 30)
        px, py = 48 + round(20 * math.cos(a)), 40 + round(20 * math.sin(a))
        d.ellipse((px - 8, py - 8, px + 8, py + 8), fill=(250, 200, 40))
    d.ellipse((34, 26, 62, 54), fill=(110, 70, 30))
    return small.resize((LOW_RES_SIDE, LOW_RES_SIDE), Image.Resampling.BILINEAR)


def draw_watermarked() -> Image.Image:
    """A bowl of fruit on a table, overlaid with a tiled diagonal stock-photo text watermark."""
    img = Image.new("RGB", (1024, 640), (240, 232, 220))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 420, 1024, 640), fill=(160, 110, 70))
    for (x, y, r), colour in (
        ((430, 330, 60), (220, 50, 40)),
        ((530, 320, 64), (250, 170, 40)),
        ((600, 350, 52), (120, 180, 60)),
        ((480, 370, 56), (200, 40, 90)),
    ):
        d.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    d.chord((330, 300, 700, 500), 0, 180, fill=(70, 110, 160))
    layer = Image.new("L", (1600, 1600), 0)
    ld = ImageDraw.Draw(layer)
    for row, y in enumerate(range(0, 1600, 170)):
        for x in range(-300 + (row % 2) * 180, 1600, 420):
            ld.text((x, y), "© STOCKPHOTO", font=font(44), fill=150)
    layer = layer.rotate(30).crop((288, 480, 1312, 1120))
    # One blend level instead of anti-aliased edges keeps the PNG small.
    img.paste(WHITE, mask=layer.point(lambda v: 150 if v > 75 else 0))
    return img


def draw_cartoon_character() -> Image.Image:
    """A round orange cartoon creature with big eyes, antennae and a smile."""
    img = Image.new("RGB", (768, 768), (255, 244, 214))
    d = ImageDraw.Draw(img)
    for (x0, y0), (x1, y1) in (((320, 240), (270, 120)), ((448, 240), (498, 120))):
        d.line([(x0, y0), (x1, y1)], fill=INK, width=8)
        d.ellipse((x1 - 22, y1 - 22, x1 + 22, y1 + 22), fill=(90, 200, 120))
    d.ellipse((240, 620, 360, 690), fill=(200, 100, 30))
    d.ellipse((408, 620, 528, 690), fill=(200, 100, 30))
    d.ellipse((184, 210, 584, 650), fill=(255, 150, 50))
    d.ellipse((284, 430, 484, 630), fill=(255, 200, 130))
    for ex in (310, 458):
        d.ellipse((ex - 52, 290, ex + 52, 410), fill=WHITE)
        d.ellipse((ex - 26, 325, ex + 26, 395), fill=INK)
        d.ellipse((ex - 12, 335, ex + 2, 351), fill=WHITE)
    for cx in (240, 528):
        d.ellipse((cx - 26, 420, cx + 26, 450), fill=(250, 120, 120))
    d.arc((324, 400, 444, 480), 20, 160, fill=INK, width=8)
    return img


# The catalogue's products (recipes/catalogue/products.csv names them): sku, shape, colour.
PRODUCTS = (
    ("A-1001", "mug", (196, 60, 50)),
    ("A-1002", "bottle", (40, 110, 170)),
    ("A-1003", "lamp", (230, 180, 40)),
    ("A-1004", "vase", (90, 150, 90)),
    ("A-1005", "box", (150, 90, 160)),
    ("A-1006", "mug", (30, 30, 40)),
    ("A-1007", "bottle", (200, 120, 60)),
    ("A-1008", "lamp", (70, 160, 170)),
    ("A-1009", "vase", (220, 150, 170)),
    ("A-1010", "box", (120, 100, 70)),
    ("B-2001", "mug", (240, 240, 235)),
    ("B-2002", "bottle", (110, 170, 80)),
    ("B-2003", "lamp", (180, 60, 110)),
    ("B-2004", "vase", (60, 70, 140)),
    ("B-2005", "box", (230, 110, 40)),
    ("B-2006", "mug", (100, 180, 210)),
    ("B-2007", "bottle", (160, 40, 40)),
    ("B-2008", "lamp", (60, 60, 60)),
    ("B-2009", "vase", (200, 190, 120)),
    ("B-2010", "box", (50, 130, 110)),
)
SHAPES = {
    "mug": [("rectangle", (150, 160, 330, 400)), ("arc", (290, 210, 400, 340))],
    "bottle": [("rectangle", (200, 200, 312, 420)), ("rectangle", (232, 100, 280, 200))],
    "lamp": [
        ("polygon", [(170, 220), (342, 220), (300, 110), (212, 110)]),
        ("rectangle", (246, 220, 266, 380)),
        ("rectangle", (190, 380, 322, 410)),
    ],
    "vase": [("ellipse", (160, 200, 352, 420)), ("rectangle", (216, 110, 296, 220))],
    "box": [
        ("rectangle", (130, 180, 382, 400)),
        ("polygon", [(130, 180), (180, 120), (432, 120), (382, 180)]),
    ],
}


def draw_product(shape: str, colour: tuple[int, int, int]) -> Image.Image:
    """One product photo: the object's silhouette in its colour on a white sweep, with a shadow."""
    img = Image.new("RGB", (512, 512), (248, 248, 246))
    d = ImageDraw.Draw(img)
    d.ellipse((120, 400, 392, 440), fill=(215, 215, 212))
    for kind, xy in SHAPES[shape]:
        if kind == "arc":
            d.arc(xy, 270, 90, fill=colour, width=22)
        else:
            getattr(d, kind)(xy, fill=colour, outline=INK, width=3)
    return img


def draw_background() -> Image.Image:
    """The season's background: a warm autumn wall over a wooden table top, empty in the middle."""
    img = Image.new("RGB", (1024, 768), WHITE)
    vertical_gradient(img, (236, 200, 160), (200, 120, 80), 0, 520)
    vertical_gradient(img, (150, 100, 60), (110, 70, 40), 520, 768)
    d = ImageDraw.Draw(img)
    for x in range(0, 1024, 128):
        d.line([(x, 520), (x + 60, 768)], fill=(130, 85, 50), width=3)
    for k, (x, y) in enumerate(((90, 120), (880, 90), (160, 380), (930, 330))):
        d.ellipse((x - 30, y - 18, x + 30, y + 18), fill=((200, 90, 30), (220, 160, 40))[k % 2])
    return img


@dataclass(frozen=True)
class Picture:
    """One input image: its file name, how to draw it, the models whose recipes read it, and
    its folder under recipes/."""

    filename: str
    draw: Callable[[], Image.Image]
    models: tuple[str, ...]
    folder: str = "images"

    @property
    def format(self) -> str:
        return FORMATS[Path(self.filename).suffix]

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.filename}"


PICTURES = (
    Picture("car.png", draw_car, WAN27 + (WAN25,)),
    Picture("graffiti.png", draw_graffiti, WAN27),
    Picture("table-vase.png", draw_table_vase, WAN27 + (WAN25, WANX21)),
    Picture("table-vase-mask.png", draw_vase_mask, (WANX21,)),
    Picture("alarm-clock.png", draw_alarm_clock, WAN27 + (WAN25,)),
    Picture("portrait.png", draw_portrait, WAN27 + (WAN26, WAN25, WANX21)),
    Picture("landscape.png", draw_landscape, WAN27 + (WAN26, WAN25, WANX21)),
    Picture("living-room-sketch.png", draw_living_room_sketch, (WANX21,)),
    Picture("grayscale-leaves.jpg", draw_grayscale_leaves, (WANX21,)),
    Picture("low-res-flower.jpg", draw_low_res_flower, (WANX21,)),
    Picture("watermarked.png", draw_watermarked, (WANX21,)),
    Picture("cartoon-character.webp", draw_cartoon_character, (WAN26, WANX21)),
    Picture("background.png", draw_background, WAN27, "catalogue"),
    *(
        Picture(
            f"{sku}.png", functools.partial(draw_product, shape, colour), WAN27, "catalogue/photos"
        )
        for sku, shape, colour in PRODUCTS
    ),
)


def model_tables() -> Iterator[Mapping[str, ModelSpec]]:
    """The model table under every documented variant,
    so the images fit whichever one a user picks."""
    yield MODELS
    for key, guess in GUESSES.items():
        for variant in guess.alternatives:
            yield table({key: variant})


def limit_problems(picture: Picture, img: Image.Image, nbytes: int) -> list[str]:
    """Every way the encoded image breaks an input limit of a model that reads it."""
    problems = []
    for models in model_tables():
        for name in picture.models:
            rule = models[name].image
            if picture.format not in rule.formats:
                problems.append(f"{name}: format {picture.format} not in {rule.formats}")
            if img.width not in rule.side or img.height not in rule.side:
                problems.append(f"{name}: {img.width}x{img.height} has a side outside {rule.side}")
            if rule.aspect and img.width / img.height not in rule.aspect:
                problems.append(
                    f"{name}: aspect {img.width / img.height:.3f} outside {rule.aspect}"
                )
            if nbytes > rule.max_bytes:
                problems.append(f"{name}: {nbytes} bytes over {rule.max_bytes}")
    return sorted(set(problems))


def encode(picture: Picture, img: Image.Image) -> bytes:
    """The image's file bytes in the format its extension names."""
    buffer = io.BytesIO()
    img.save(buffer, picture.format, **SAVE_OPTIONS[picture.format])
    return buffer.getvalue()


def render_all() -> dict[str, bytes]:
    """Draw, check and encode every picture; exit with the problems if any image breaks a limit."""
    files, problems = {}, []
    images = {p.filename: p.draw() for p in PICTURES}
    if images["table-vase-mask.png"].size != images["table-vase.png"].size:
        problems.append("table-vase-mask.png: mask size differs from table-vase.png")
    for picture in PICTURES:
        data = encode(picture, images[picture.filename])
        problems += [
            f"{picture.filename}: {p}"
            for p in limit_problems(picture, images[picture.filename], len(data))
        ]
        files[picture.path] = data
    if problems:
        sys.exit("\n".join(problems))
    return files


def describe(name: str, data: bytes) -> str:
    """One summary line: file, size, format, bytes and the boxes recipes may point at."""
    with Image.open(io.BytesIO(data)) as img:
        marked = BOXES.get(Path(name).name, {})
        boxes = "".join(f"  {label}={list(box)}" for label, box in marked.items())
        return f"{name:31} {img.width}x{img.height} {img.format:4} {len(data):6} B{boxes}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed images, write nothing"
    )
    args = parser.parse_args(argv)
    files = render_all()
    stale = [
        n for n, data in files.items() if not (OUT / n).is_file() or (OUT / n).read_bytes() != data
    ]
    if args.check:
        for name in stale:
            print(f"out of date: recipes/{name}")
        return 1 if stale else 0
    for name in stale:
        (OUT / name).parent.mkdir(parents=True, exist_ok=True)
        (OUT / name).write_bytes(files[name])
    for name, data in files.items():
        print(describe(name, data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
