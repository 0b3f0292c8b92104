"""The report page in headless Chromium: images, boxes, swatches, filters, escaping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_kit import BOXES, PALETTE, SCRIPT_PROMPT, SHOWCASE, screenshot


def opened(page, path: Path, query: str = ""):  # type: ignore[no-untyped-def]
    """`page` at the file `path` (with `query`), every lazy image loaded, scrolled to the top."""
    page.goto(path.as_uri() + query)
    for img in page.query_selector_all("img"):
        img.scroll_into_view_if_needed()
    page.wait_for_function("[...document.images].every(i => i.complete)")
    page.evaluate("window.scrollTo(0, 0)")
    return page


@pytest.fixture
def report(page, ran: Path):
    """The report of the run, opened from its file:// URL with every lazy image loaded."""
    return opened(page, ran / "report" / "index.html")


def test_every_thumbnail_loads(report) -> None:
    """Every image on the page has decoded (natural width above 0)."""
    widths = report.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
    assert len(widths) > 3
    assert all(w > 0 for w in widths)
    screenshot(report, "report")


def test_one_output_thumbnail_per_png_written(report, ran: Path) -> None:
    """The page shows as many output thumbnails as the run wrote PNG files, each linking one."""
    written = sorted(p.name for p in (ran / "out").rglob("*.png"))
    links = report.eval_on_selector_all(
        "img.output-thumb", "els => els.map(e => e.parentElement.getAttribute('href'))"
    )
    assert sorted(Path(h).name for h in links) == written
    assert len(written) == 3  # two of `boxes`, one of `half`; `broken` made none


def test_box_overlays_sit_on_the_scaled_boxes(report) -> None:
    """Each box overlay is within a pixel of its box scaled to the thumbnail, labelled i.j."""
    found = report.eval_on_selector_all(
        ".bbox",
        """els => els.map(e => {
            const img = e.parentElement.querySelector('img');
            const i = img.getBoundingClientRect(), b = e.getBoundingClientRect();
            return {label: e.textContent, box: e.dataset.box.split(',').map(Number),
                    scale: i.width / Number(img.dataset.sourceWidth),
                    yscale: i.height / Number(img.dataset.sourceHeight),
                    x: b.left - i.left, y: b.top - i.top, w: b.width, h: b.height};
        })""",
    )
    expected = [
        (f"{i}.{j}", box)
        for i, boxes in enumerate(BOXES.values(), 1)
        for j, box in enumerate(boxes, 1)
    ]
    assert [(f["label"], f["box"]) for f in found] == expected
    for f in found:
        x1, y1, x2, y2 = f["box"]
        assert abs(f["x"] - x1 * f["scale"]) <= 1
        assert abs(f["y"] - y1 * f["yscale"]) <= 1
        assert abs(f["w"] - (x2 - x1) * f["scale"]) <= 1
        assert abs(f["h"] - (y2 - y1) * f["yscale"]) <= 1


def test_swatches_carry_the_palette_colours(report) -> None:
    """Each swatch is painted in its hex colour and shows its ratio."""
    found = report.eval_on_selector_all(
        ".swatch",
        "els => els.map(e => [getComputedStyle(e.querySelector('.chip')).backgroundColor,"
        " e.textContent])",
    )

    def rgb(hex_colour: str) -> str:
        r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        return f"rgb({r}, {g}, {b})"

    assert [colour for colour, _ in found] == [rgb(h) for h, _ in PALETTE]
    assert [text.split()[-1] for _, text in found] == [str(r) for _, r in PALETTE]


@pytest.mark.parametrize(("state", "jobs"), [("partial", ["half"]), ("failed", ["broken"])])
def test_state_filter_hides_the_other_cards(report, state: str, jobs: list[str]) -> None:
    """Choosing a state leaves exactly the cards in that state visible."""
    report.select_option("#filter-state", state)
    visible = report.eval_on_selector_all(
        ".card",
        "els => els.filter(e => !e.hidden && e.offsetParent)"
        ".map(e => e.querySelector('h2').textContent)",
    )
    assert visible == jobs
    report.select_option("#filter-state", "")
    assert report.eval_on_selector_all(".card", "els => els.filter(e => !e.hidden).length") == 3


def test_text_search_and_model_filter(report) -> None:
    """Search matches prompts; the model filter keeps that model's cards."""
    report.fill("#filter-text", "vase")
    assert report.eval_on_selector_all(
        ".card:not([hidden]) h2", "e => e.map(x => x.textContent)"
    ) == ["broken"]
    report.fill("#filter-text", "")
    report.select_option("#filter-model", "wan2.7-image")
    shown = report.eval_on_selector_all(".card:not([hidden]) h2", "e => e.map(x => x.textContent)")
    assert sorted(shown) == ["boxes", "half"]


def test_a_script_in_the_prompt_is_text(report) -> None:
    """A prompt with <script> in it shows as written and runs nothing."""
    assert report.evaluate("window.__pwned") is None
    prompt = report.eval_on_selector(".card[data-state='complete'] .prompt", "e => e.textContent")
    assert prompt == SCRIPT_PROMPT
    assert report.eval_on_selector_all(".card b", "e => e.length") == 0


def test_failed_images_show_code_and_message(report, ran: Path) -> None:
    """The partial job names its failed image's code and message; the failed job its error."""
    lock = json.loads((ran / "wanform.lock").read_text(encoding="utf-8"))
    [failure] = lock["jobs"]["recipes/half.yaml::half"]["failures"]
    half = report.eval_on_selector(".card[data-state='partial'] .failures", "e => e.textContent")
    assert f"image 2: {failure['code']} {failure['message']}" in " ".join(half.split())
    broken = report.eval_on_selector(".card[data-state='failed'] .failures", "e => e.textContent")
    assert "InternalError" in broken


# What a page's sticky and fixed parts cover, and how wide the page is, at the current size.
MEASURE = """() => {
    const pinned = [...document.querySelectorAll('*')].filter(e =>
        ['sticky', 'fixed'].includes(getComputedStyle(e).position));
    return {width: document.documentElement.scrollWidth, view: innerWidth, height: innerHeight,
            pinned: Math.max(0, ...pinned.map(e => e.getBoundingClientRect().height))};
}"""


SCREENS = [(360, 740), (390, 844), (768, 1024), (1440, 900)]


def test_the_page_fits_every_width(page, ran: Path, showcase: Path) -> None:
    """From a 360 px phone up, neither report scrolls sideways, and what stays pinned at the top
    covers less than a fifth of the screen."""
    for folder in (ran / "report", showcase / "report"):
        page.goto((folder / "index.html").as_uri())
        for width, height in SCREENS:
            page.set_viewport_size({"width": width, "height": height})
            found = page.evaluate(MEASURE)
            assert found["width"] <= found["view"], (folder, found)
            assert 0 < found["pinned"] < 0.2 * found["height"], (folder, found)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(opened(page, showcase / "report" / "index.html"), "report-390")


def test_no_match_says_so_and_the_url_keeps_the_filters(report, browser) -> None:
    """A search that finds nothing says so; the filters are in the URL, and that URL opened
    elsewhere shows the same view."""
    assert report.is_hidden("#no-match")
    report.fill("#filter-text", "no such fox")
    assert report.is_visible("#no-match")
    report.select_option("#filter-state", "failed")
    url = report.url
    assert "q=no+such+fox" in url and "state=failed" in url
    report.fill("#filter-text", "vase")
    assert report.is_hidden("#no-match")
    other = browser.new_page()
    try:
        other.goto(report.url)
        assert other.input_value("#filter-text") == "vase"
        assert other.input_value("#filter-state") == "failed"
        shown = other.eval_on_selector_all(
            ".card:not([hidden]) h2", "e => e.map(x => x.textContent)"
        )
        assert shown == ["broken"]
        other.fill("#filter-text", "zebra")
        other.click("#clear-filters")
        assert other.eval_on_selector_all(".card:not([hidden])", "e => e.length") == 3
        assert "?" not in other.url
    finally:
        other.close()


def test_times_read_in_the_readers_time_zone(browser, ran: Path) -> None:
    """Times show in the reader's zone, named (no raw `end_time`), the UTC text kept as a title."""
    page = browser.new_page(timezone_id="Asia/Tokyo")
    try:
        page.goto((ran / "report" / "index.html").as_uri())
        names = page.eval_on_selector_all(".timings dt", "e => e.map(x => x.textContent)")
        assert "finished by the service" in names and "end_time" not in names
        shown = page.eval_on_selector_all(
            "time.moment", "e => e.map(x => [x.textContent, x.title])"
        )
        assert shown and all("GMT+9" in text and title.endswith(" UTC") for text, title in shown)
    finally:
        page.close()


def test_a_card_shows_what_the_job_made_and_took(page, showcase: Path) -> None:
    """The story's text, the mask lying over its image, and an input another job made as its
    thumbnail, linking that job's card."""
    shown = opened(page, showcase / "report" / "index.html")
    story = shown.locator(f"[id='{SHOWCASE[0]}::wan26-image-interleave'] .story-text")
    assert story.count() == 3 and "bedtime story" in story.first.text_content()
    mask = shown.eval_on_selector(
        ".mask-over",
        """m => { const i = m.parentElement.querySelector('.input-thumb').getBoundingClientRect(),
                       r = m.getBoundingClientRect();
                  return [r.left - i.left, r.top - i.top, r.width - i.width, r.height - i.height,
                          m.naturalWidth]; }""",
    )
    assert [round(v) for v in mask[:4]] == [0, 0, 0, 0] and mask[4] > 0
    edit = shown.locator("[id='recipes/chains/scene-2-edit.yaml::scene-edit']")
    assert edit.locator(".input .missing").count() == 0
    assert edit.locator(".input img.input-thumb").evaluate("i => i.naturalWidth") > 0
    edit.locator("a.upstream").click()
    target = shown.evaluate("decodeURIComponent(location.hash)")
    assert target == "#recipes/chains/scene-1-generate.yaml::scene"
    assert shown.evaluate("document.querySelector(':target').id") == target[1:]
    screenshot(shown, "report-showcase")
