"""Thumbnails: the strip reader agrees with Pillow, caches are reused, bad files are named."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from wanform.runner.reports.html import thumbs
from wanform.spec.formats import png


def _noisy(mode: str, size: tuple[int, int]) -> Image.Image:
    """Shapes and noise, so that the PNG encoder picks every row filter somewhere."""
    rng = random.Random(7)
    image = Image.new("RGB", size, (30, 60, 90))
    pixels = image.load()
    for _ in range(4000):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        pixels[x, y] = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    for y in range(0, size[1], 7):
        for x in range(0, size[0], 3):
            pixels[x, y] = (x % 256, y % 256, (x * y) % 256)
    return image.convert(mode) if mode != "P" else image.quantize(64)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P"])
def test_strips_match_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Read in strips, a PNG gives the same thumbnail as Pillow reducing it whole."""
    source = tmp_path / "big.png"
    image = _noisy(mode, (1301, 977))
    image.save(source)
    monkeypatch.setattr(thumbs, "STRIPPED", 1000)  # this image counts as big
    stripped = thumbs._png_strips(source)
    assert stripped is not None
    whole = image.convert(stripped.mode).reduce(5)  # the factor ceil(1301 / 320) gives
    whole.thumbnail((thumbs.EDGE, thumbs.EDGE))
    assert stripped.size == whole.size
    assert ImageChops.difference(stripped, whole).getbbox() is None


def test_interlaced_png_goes_to_pillow(tmp_path: Path) -> None:
    """An interlaced PNG (Adam7, which Pillow does not write: its header is marked so) is not
    read in strips."""
    source = tmp_path / "i.png"
    _noisy("RGB", (300, 200)).save(source)
    data = source.read_bytes()
    ihdr = data[16:29]
    source.write_bytes(data[:8] + png.chunk(b"IHDR", ihdr[:-1] + b"\x01") + data[33:])
    assert thumbs._png_strips(source) is None
    source.write_bytes(data[:8] + png.chunk(b"IHDR", ihdr) + data[33:])
    assert thumbs._png_strips(source) is not None


def test_thumbnail_is_made_once(tmp_path: Path) -> None:
    """A second report finds the cached thumbnail; a changed image makes a new one."""
    source = tmp_path / "a.png"
    _noisy("RGB", (900, 300)).save(source)
    first = thumbs.thumbnail(source, tmp_path / "cache")
    assert (first.width, first.height, first.source_width) == (320, 107, 900)
    mtime = (tmp_path / "cache" / first.name).stat().st_mtime_ns
    assert thumbs.thumbnail(source, tmp_path / "cache") == first
    assert (tmp_path / "cache" / first.name).stat().st_mtime_ns == mtime
    _noisy("RGB", (300, 900)).save(source)
    assert thumbs.thumbnail(source, tmp_path / "cache").name != first.name


def test_pixel_limit_lifted_only_for_own_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An input over Pillow's pixel limit gets no thumbnail; an output of the same size does."""
    source = tmp_path / "wide.jpg"
    Image.new("RGB", (2000, 1000), (1, 2, 3)).save(source)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500_000)  # 2,000,000 px is over twice this
    with pytest.raises(thumbs.ThumbError):
        thumbs.thumbnail(source, tmp_path / "cache")
    assert thumbs.thumbnail(source, tmp_path / "cache", own=True).source_width == 2000
    assert Image.MAX_IMAGE_PIXELS == 500_000


def test_damaged_image_is_a_thumb_error(tmp_path: Path) -> None:
    """A truncated PNG gives ThumbError naming the file, not a traceback."""
    source = tmp_path / "cut.png"
    _noisy("RGB", (600, 400)).save(source)
    source.write_bytes(source.read_bytes()[:2000])
    with pytest.raises(thumbs.ThumbError, match="cut.png"):
        thumbs.thumbnail(source, tmp_path / "cache")
