"""`wanform report --plan` and `-o markdown`: what changed, and the outputs before and now."""

from __future__ import annotations

import hashlib
import io
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_kit import git, wanform

from wanform.runner.reports.html import markdown, page

GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")
FOXES = """\
model: wan2.7-image
prompt: A red fox in the snow.
n: 1
seed: {seed}
"""


class Cards(HTMLParser):
    """The page's cards: each one's plan verdict and image links, by job name."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, dict] = {}
        self.current: dict | None = None
        self.heading = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        if tag == "article":
            self.current = {"plan": found["data-plan"], "previous": [], "output": [], "text": ""}
        elif tag == "h2":
            self.heading = True
        elif tag == "img" and self.current is not None:
            kind = found["class"].split()[-1].removesuffix("-thumb")
            if kind in ("previous", "output"):
                self.current[kind].append(found["src"])

    def handle_data(self, data: str) -> None:
        if self.current is not None:
            self.current["text"] += data
            if self.heading:
                self.cards[data] = self.current
                self.heading = False


def _cards(root: Path) -> dict[str, dict]:
    parser = Cards()
    parser.feed((root / "report" / "index.html").read_text(encoding="utf-8"))
    return parser.cards


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    """Two recipes run on the embedded emulator, everything committed."""
    (tmp_path / "recipes").mkdir()
    for name, seed in (("a", 1), ("b", 2)):
        (tmp_path / "recipes" / f"{name}.yaml").write_text(FOXES.format(seed=seed))
    wanform(tmp_path, "run", "--emulator-speed", "100")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "first run")
    return tmp_path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_changed_job_shows_its_previous_outputs_from_git(committed: Path) -> None:
    """With the outputs gone from the working copy, the changed job's previous image comes from
    the commit that last changed the lock; only pending jobs get cards."""
    old = committed / "out" / "a" / "a-1.png"
    digest = _sha(old)
    (committed / "recipes" / "a.yaml").write_text(FOXES.format(seed=9))
    old.unlink()
    wanform(committed, "report", "--plan")
    cards = _cards(committed)
    assert list(cards) == ["a"]
    assert cards["a"]["plan"] == "changed" and "seed 1 → 9" in " ".join(cards["a"]["text"].split())
    assert "not made yet" in cards["a"]["text"]
    [restored] = (committed / "report" / "previous").rglob("a-1.png")
    assert _sha(restored) == digest
    assert len(cards["a"]["previous"]) == 1 and cards["a"]["output"] == []


def test_base_revision_puts_before_next_to_now(committed: Path) -> None:
    """After a run of the change, `--plan --base HEAD` shows HEAD's image next to the new one."""
    before = _sha(committed / "out" / "a" / "a-1.png")
    (committed / "recipes" / "a.yaml").write_text(FOXES.format(seed=9))
    wanform(committed, "run", "--emulator-speed", "100")
    assert _sha(committed / "out" / "a" / "a-1.png") != before
    wanform(committed, "report", "--plan", "--base", "HEAD")
    cards = _cards(committed)
    assert list(cards) == ["a"]
    assert len(cards["a"]["previous"]) == 1 and len(cards["a"]["output"]) == 1
    [restored] = (committed / "report" / "previous").rglob("a-1.png")
    assert _sha(restored) == before
    markdown = wanform(committed, "report", "--plan", "--base", "HEAD", "-o", "markdown").stdout
    row = "| `recipes/a.yaml::a` | `wan2.7-image` | `complete` | `changed` | `seed` |"
    assert row in markdown
    assert "Plan: 1 changed, 1 unchanged" in markdown


def test_base_needs_git_and_plan(committed: Path) -> None:
    """A revision git does not know exits 1 with a message; --base without --plan is a usage
    error (2)."""
    done = wanform(committed, "report", "--plan", "--base", "no-such-rev", check=1)
    assert "--base no-such-rev" in done.stderr and "Traceback" not in done.stderr
    assert (
        "--base goes with --plan" in wanform(committed, "report", "--base", "HEAD", check=2).stderr
    )


def test_markdown_escapes_table_cells(tmp_path: Path) -> None:
    """A pipe or a line break in a value cannot break the Markdown table."""
    card = {
        "key": "r.yaml::a[prompt=x|y]",
        "model": "wan2.7-image",
        "state": "not run",
        "plan": "new",
        "reasons": ["one\ntwo"],
    }
    out = io.StringIO()
    markdown.write(page.Report([card], None), out)
    row = "| `r.yaml::a[prompt=x\\|y]` | `wan2.7-image` | `not run` | `new` | `one two` |"
    assert row in out.getvalue()
    assert "No run recorded yet." in out.getvalue()
