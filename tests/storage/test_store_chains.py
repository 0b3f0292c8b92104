"""Chains and --prune with outputs in the store: a downstream job takes its upstream's image from
the store, checked by sha256; prune deletes only the objects wanform put there, unchanged."""

from __future__ import annotations

import json

import pytest
from store_kit import StoreProject

# several runs each: the slow tier (test_store_run.py keeps the default tier's store tests)
pytestmark = pytest.mark.slow

SCENE = (
    "name: scene\nmodel: wan2.7-image-pro\nprompt: A reading corner.\nsize: 1K\nn: 1\nseed: 11\n"
)
EDIT = (
    "name: scene-edit\nmodel: wan2.7-image-pro\nprompt: Add a fern.\n"
    "inputs:\n  - from: scene\n    bboxes: [[560, 520, 860, 820]]\nsize: 1K\nn: 1\nseed: 12\n"
)


@pytest.fixture
def chain(tmp_path, s3_server, bucket, emulator) -> StoreProject:
    made = StoreProject.make(tmp_path, s3_server, bucket, emulator[0])
    (tmp_path / "recipes" / "fox.yaml").unlink()
    (tmp_path / "recipes" / "scene.yaml").write_text(SCENE)
    (tmp_path / "recipes" / "edit.yaml").write_text(EDIT)
    return made


def test_a_downstream_job_takes_its_upstream_image_from_the_store(chain):
    """Run alone, the edit fetches the scene's image from the store and sends it."""
    assert chain.wanform("run").exit_code == 0
    chain.delete("shots/scene-edit/scene-edit-1.png")
    again = chain.wanform("run", "--job", "scene-edit")
    assert again.exit_code == 0, again.output
    assert "shots/scene-edit/scene-edit-1.png" in chain.objects()


def test_an_upstream_object_changed_in_the_store_is_never_sent(chain):
    """An upstream object whose bytes are no longer the lock's blocks its dependant."""
    assert chain.wanform("run").exit_code == 0
    data, _ = chain.get("shots/scene/scene-1.png") or (b"", {})
    entry = json.loads((chain.root / "wanform.lock").read_text())["jobs"]
    sha = entry["recipes/scene.yaml::scene"]["outputs"][0]["sha256"].removeprefix("sha256:")
    chain.put("shots/scene/scene-1.png", data[:-1] + b"\x00", {"sha256": sha})
    (chain.root / "recipes" / "edit.yaml").write_text(EDIT.replace("fern", "cactus"))
    blocked = chain.wanform("run", "--job", "scene-edit")
    assert blocked.exit_code == 3, blocked.output
    assert "is no longer the image the lock records" in blocked.output


def test_prune_deletes_only_unchanged_objects_under_the_prefix(chain):
    """An orphan's unchanged image and sidecar are deleted; one written over since is kept."""
    assert chain.wanform("run").exit_code == 0
    data, meta = chain.get("shots/scene-edit/scene-edit-1.png") or (b"", {})
    chain.put("shots/scene-edit/scene-edit-1.png", data + b"!", meta)
    (chain.root / "recipes" / "edit.yaml").unlink()
    pruned = chain.wanform("run", "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert chain.objects() == [
        "shots/scene-edit/scene-edit-1.png",
        "shots/scene/scene-1.png",
        "shots/scene/scene.json",
    ]
    assert f"pruned s3://{chain.bucket}/shots/scene-edit/scene-edit.json" in pruned.output
    uri = f"s3://{chain.bucket}/shots/scene-edit/scene-edit-1.png"
    assert f"kept {uri}: its bytes are not the ones wanform wrote" in pruned.output


def test_the_report_shows_stored_outputs_by_thumbnail_and_presigned_url(chain):
    """Each stored output gets a thumbnail cached by its sha256 under report/thumbs/ and a link
    signed for a stated lifetime; a second report fetches nothing again."""
    assert chain.wanform("run").exit_code == 0
    made = chain.wanform("report")
    assert made.exit_code == 0, made.output
    assert "linked by URLs signed for 7 days" in made.output
    entry = json.loads((chain.root / "wanform.lock").read_text())["jobs"]
    sha = entry["recipes/scene.yaml::scene"]["outputs"][0]["sha256"].removeprefix("sha256:")
    thumb = chain.root / "report" / "thumbs" / f"{sha[:32]}.jpg"
    assert thumb.is_file()
    page = (chain.root / "report" / "index.html").read_text()
    assert f"thumbs/{sha[:32]}.jpg" in page
    assert f"{chain.bucket}/shots/scene/scene-1.png?X-Amz-Algorithm=AWS4-HMAC-SHA256" in page
    assert "X-Amz-Expires=604800" in page
    assert chain.server.secret not in page
    before = thumb.stat().st_mtime_ns
    assert chain.wanform("report").exit_code == 0
    assert thumb.stat().st_mtime_ns == before


def test_a_plan_report_shows_a_changed_jobs_stored_images_as_before(chain):
    """`report --plan` shows what a changed job's stored outputs are now, from the store (its
    thumbnail and a signed link), not as missing from disk and git."""
    assert chain.wanform("run").exit_code == 0
    (chain.root / "recipes" / "scene.yaml").write_text(SCENE.replace("corner", "nook"))
    made = chain.wanform("report", "--plan")
    assert made.exit_code == 0, made.output
    entry = json.loads((chain.root / "wanform.lock").read_text())["jobs"]
    sha = entry["recipes/scene.yaml::scene"]["outputs"][0]["sha256"].removeprefix("sha256:")
    page = (chain.root / "report" / "index.html").read_text()
    assert "not on disk, not in git" not in page
    assert f"thumbs/{sha[:32]}.jpg" in page
    assert f"{chain.bucket}/shots/scene/scene-1.png?X-Amz-Algorithm=AWS4-HMAC-SHA256" in page
