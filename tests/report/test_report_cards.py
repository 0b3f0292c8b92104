"""What a card says in words: times on one clock, the target by name, outputs that are not
current, and what changed (old -> new) in a `--plan` of the showcase project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_kit import SHOWCASE

from wanform.runner.api.targets import made_on_words
from wanform.runner.reports.html.cards import made
from wanform.runner.reports.html.changes import HASHED, changes
from wanform.runner.reports.html.times import moments


def test_times_are_utc_under_names_for_people() -> None:
    """The service's times (UTC+8, no zone) and the runner's (ISO with offset) come out in UTC,
    labelled, in the order things happen, under names that say what happened."""
    found = moments(
        {
            "end_time": "2026-03-26 17:16:22.961",
            "submitted_at": "2026-03-26T09:16:00.000+00:00",
            "nonsense": "soon",
        }
    )
    assert found == [
        {"name": "sent", "utc": "2026-03-26T09:16:00.000Z", "text": "2026-03-26 09:16:00 UTC"},
        {
            "name": "finished by the service",
            "utc": "2026-03-26T09:16:22.961Z",
            "text": "2026-03-26 09:16:22 UTC",
        },
        {"name": "nonsense", "utc": None, "text": "soon"},
    ]


@pytest.mark.parametrize(
    ("made_on", "words"),
    [
        ("emulator", "emulator"),
        ("dashscope:cn-beijing", "DashScope Beijing"),
        ("dashscope:ap-southeast-1", "DashScope Singapore"),
        ("http://127.0.0.1:8000/api/v1", "http://127.0.0.1:8000/api/v1"),
        ("url", "a URL"),  # a summary written before it recorded the target itself
    ],
)
def test_the_target_in_words(made_on: str, words: str) -> None:
    """Where images were made reads as a place, never as the kind `url`."""
    assert made_on_words(made_on) == words


ENTRY = {"finished": "2026-03-26T09:16:00+00:00", "outputs": [{"path": "out/a-1.png"}]}


@pytest.mark.parametrize(
    ("state", "why"),
    [
        ("failed", "before the last run, in which it failed"),
        ("blocked", "before the last run, in which it blocked"),
        ("succeeded", None),
        ("skipped", None),  # found done: what the lock records is current
    ],
)
def test_outputs_the_last_run_did_not_make_are_dated(state: str, why: str | None) -> None:
    """A job whose last run made nothing shows the lock's images as from their own run."""
    last = {"key": "a::a", "state": state, "task_id": None, "error": None}
    found = made(ENTRY, last, changed=False)  # type: ignore[arg-type]
    assert (found and found["why"]) == why
    if found:
        assert found["text"] == "2026-03-26 09:16:00 UTC"
    assert made(ENTRY, None, changed=True)["why"] == "before this change"  # type: ignore[index]


def _card(page: str, job: str) -> str:
    return page.split(f'id="{job}"')[1].split("</article>")[0]


def test_a_changed_job_says_old_to_new(showcase: Path) -> None:
    """The plan shows each changed field as old -> new, an input as before and after thumbnails,
    the parameters a run would send, and no `complete` pill on a changed job."""
    page = (showcase / "plan" / "index.html").read_text(encoding="utf-8")
    scene = _card(page, "recipes/chains/scene-1-generate.yaml::scene")
    assert '<th scope="row">seed</th>' in scene
    assert '<td class="old">11</td>' in scene and '<td class="new">12</td>' in scene
    assert "<dt>seed</dt><dd>12</dd>" in scene  # not the seed of the earlier run
    vase = _card(page, f"{SHOWCASE[1]}::wanx21-description-edit-with-mask")
    assert 'class="thumb before-thumb"' in vase and 'class="thumb after-thumb"' in vase
    assert 'class="state state-complete"' not in page
    assert page.count('<span class="state state-changed">changed</span>') == 3


def test_a_changed_jobs_images_are_labelled_as_earlier(showcase: Path) -> None:
    """In the report, the images of a job changed since are dated and said to be from before."""
    page = (showcase / "report" / "index.html").read_text(encoding="utf-8")
    scene = _card(page, "recipes/chains/scene-1-generate.yaml::scene")
    lock = json.loads((showcase / "wanform.lock").read_text(encoding="utf-8"))
    finished = lock["jobs"]["recipes/chains/scene-1-generate.yaml::scene"]["finished"]
    assert f'datetime="{finished[:19]}' in scene
    assert "before this change:" in scene
    story = _card(page, f"{SHOWCASE[0]}::wan26-image-interleave")
    assert "stale-note" not in story and story.count('class="story-text"') == 3


def test_a_changed_image_reads_before_and_after_a_mask_too() -> None:
    """An input image or mask that changed shows as its earlier and its current picture; other
    fields as their old and new values, a long text as what the lock keeps of it."""
    mask = {"field": "mask", "src": "m"}
    inputs = [{"field": "inputs[0].image", "src": "a", "mask": mask}]
    old = {"mask": "sha256:x", "seed": 1, "prompt": "sha256:p"}
    new = {"mask": "sha256:y", "seed": 2, "prompt": "A fox."}

    def before(image: dict, recorded: str) -> dict | None:
        return {"src": "old-" + image["src"]} if recorded == "sha256:x" else None

    assert changes(old, new, inputs, before) == [
        {
            "field": "mask",
            "old": "the earlier image",
            "new": "this image",
            "after": mask,
            "before": {"src": "old-m"},
        },
        {"field": "prompt", "old": HASHED, "new": '"A fox."'},
        {"field": "seed", "old": "1", "new": "2"},
    ]
