"""The report page in headless Chromium, over a lock whose output paths are hostile: every link is a
relative file path to the file it names, nothing runs, and the page allows no inline script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from report_kit import wanform

# Lock output paths that stay inside the project (the lock is refused otherwise) but that, taken
# as written relative to report/, would be a script, a document, another host or markup.
HOSTILE = (
    "report/javascript:window.pwned=1",
    "report/data:text/html,<script>window.pwned=2</script>.png",
    "report/\\\\evil.example\\x.png",  # backslashes are slashes to a browser: //evil.example/x.png
    "out/..\\..\\..\\x.png",
    "report/\"'><img src=x onerror=window.pwned=3>.png",
    "report/?q=1#frag.png",
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose lock records one real PNG at each hostile path, and its report."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "recipes").mkdir()
    (root / "recipes" / "fox.yaml").write_text("model: wan2.7-image\nprompt: A fox.\nn: 1\n")
    for number, name in enumerate(HOSTILE):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (40 * number, 90, 160)).save(root / name, format="PNG")
    outputs = [{"path": name, "sha256": "sha256:00"} for name in HOSTILE]
    lock = {"version": 1, "jobs": {"recipes/fox.yaml::fox": {"outputs": outputs}}}
    (root / "wanform.lock").write_text(json.dumps(lock), encoding="utf-8")
    wanform(root, "report")
    return root


@pytest.fixture
def opened(page, hostile: Path):
    """The hostile report, loaded from its file:// URL, with every request it makes recorded."""
    page.requested = []
    page.on("request", lambda r: page.requested.append(r.url))
    page.goto((hostile / "report" / "index.html").as_uri())
    return page


def _targets(page) -> list[dict]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(
        "[href], [src]",
        """els => els.map(e => {
            const raw = e.getAttribute('href') ?? e.getAttribute('src');
            const url = new URL(raw, document.baseURI);
            return {tag: e.tagName, raw, href: url.href, protocol: url.protocol, host: url.host};
        })""",
    )


def test_every_link_is_a_relative_path_to_its_file(opened, hostile: Path) -> None:
    """Each output links its own file by a relative path; no href or src names a scheme or a
    host."""
    found = _targets(opened)
    for target in found:
        assert (target["protocol"], target["host"]) == ("file:", ""), target
        assert not target["raw"].startswith(("/", "\\")), target
    assert len(found) == 2 * len(HOSTILE) + 1  # a link and a thumbnail per output, the script
    links = [t["href"] for t in found if t["tag"] == "A"]
    assert links == [(hostile / name).as_uri() for name in HOSTILE]


def test_clicking_a_link_runs_nothing(opened, hostile: Path) -> None:
    """Following any output link runs no script and reaches nothing but a local file."""
    count = len(HOSTILE)
    for number in range(count):
        opened.goto((hostile / "report" / "index.html").as_uri())
        opened.locator(".outputs a").nth(number).click()
        assert opened.evaluate("window.pwned") is None
    assert all(url.startswith("file:///") for url in opened.requested), opened.requested


def test_the_page_allows_no_inline_script(opened, hostile: Path) -> None:
    """The policy names no 'unsafe-inline' script source; the script is report.js beside the page,
    and its filters work."""
    policy = opened.get_attribute("meta[http-equiv='Content-Security-Policy']", "content")
    directives = dict(d.strip().split(None, 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert opened.eval_on_selector_all("script:not([src])", "els => els.length") == 0
    script = opened.eval_on_selector("script[src]", "e => e.src")
    assert script == (hostile / "report" / "report.js").as_uri()
    opened.fill("#filter-text", "no such job")
    assert opened.text_content("#shown") == "0 of 1 jobs"
