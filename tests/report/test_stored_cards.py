"""A stored output's card: its thumbnail and signed link only while the store holds the image the
lock records at that URI."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from wanform.runner.reports.html.cards import Places, stored_picture
from wanform.runner.reports.html.stored import thumb_name

URI = "s3://shots/scene/scene-1.png"
NOW, THEN = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def places(tmp_path: Path) -> Places:
    thumbs = tmp_path / "report" / "thumbs"
    thumbs.mkdir(parents=True)
    for digest in (NOW, THEN):  # both thumbnails cached by an earlier report
        Image.new("RGB", (8, 8)).save(thumbs / f"{thumb_name(digest)}.jpg")
    signed = {URI: (NOW, "https://store.example/scene-1.png?X-Amz-Signature=s")}
    return Places(tmp_path, tmp_path / "report", thumbs, signed)


def test_the_image_the_store_holds_links_its_signed_url(tmp_path):
    shown = stored_picture({"path": URI, "sha256": NOW, "width": 8, "height": 8}, places(tmp_path))
    assert shown["href"].startswith("https://store.example/scene-1.png?")
    assert shown["src"] == f"thumbs/{thumb_name(NOW)}.jpg"


def test_an_image_written_over_since_is_not_shown_by_the_new_ones_link(tmp_path):
    """An earlier lock's image at the same URI: its cached thumbnail would sit over a link to
    the image that replaced it, so the card says it is gone instead."""
    shown = stored_picture({"path": URI, "sha256": THEN, "width": 8, "height": 8}, places(tmp_path))
    assert shown == {
        "name": "scene-1.png",
        "path": URI,
        "href": "",
        "error": "not this image in the store any more",
    }
