"""`wanform report -o markdown` as GitHub renders it: no value a recipe, a lock or the service
controls adds a link, an image or HTML to the table, or breaks out of its cell."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from report_kit import wanform

from wanform.runner.reports.html import markdown, page

HOSTILE = (
    "a`b``c",
    "`",
    "x|y",
    "\\|",
    "ends with \\",
    "![x](https://evil.example/p.png)",
    "[a](b)",
    "<img src=x onerror=alert(1)>",
    "<https://evil.example>",
    "one\ntwo\r\nthree",
    "&lt;b&gt; &amp; &#60;",
    "https://evil.example www.evil.example a@evil.example @someone #12",
    "*em* _u_ ~~s~~ <b>",
)
# the columns, in order, and the card field each shows
FIELDS = ("key", "model", "state", "plan", "reasons")
LINKS = {"link_open", "image", "html_inline", "html_block"}


def _rows(text: str) -> list[list[list[Token]]]:
    """The table's body rows as GitHub-flavoured Markdown parses them (HTML on, as on GitHub):
    each cell's inline tokens. Fails on any link, image or HTML anywhere in the document."""
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(text)
    inline = [child for t in tokens for child in (t.children or [t])]
    assert not [t for t in inline if t.type in LINKS], text
    body = tokens[[t.type for t in tokens].index("tbody_open") :]
    rows: list[list[list[Token]]] = []
    for token in body:
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline":
            rows[-1].append(token.children or [])
    return rows


def _shown(cell: list[Token]) -> list[str]:
    """A cell's values: only code spans (which nothing autolinks), between plain separators."""
    assert all(t.type == "code_inline" or t.content == ", " for t in cell), cell
    return [t.content for t in cell if t.type == "code_inline"]


def _card(field: str, value: str) -> dict:
    card = {"key": "r.yaml::a", "model": "wan2.7-image", "state": "complete", "plan": "new"}
    card["reasons"] = ["seed"]
    card[field] = [value, "prompt"] if field == "reasons" else value
    return card


@pytest.mark.parametrize("field", FIELDS)
def test_every_cell_shows_any_value_as_text(field: str) -> None:
    """Each hostile value, in each column, renders as exactly that text (whitespace made single
    spaces) in its own cell of a five-column row."""
    out = io.StringIO()
    markdown.write(page.Report([_card(field, value) for value in HOSTILE], None), out)
    rows = _rows(out.getvalue())
    assert [len(row) for row in rows] == [len(FIELDS)] * len(HOSTILE)
    column = FIELDS.index(field)
    expected = [[" ".join(v.split())] + (["prompt"] if field == "reasons" else []) for v in HOSTILE]
    assert [_shown(row[column]) for row in rows] == expected


FOXES = """\
model: wan2.7-image
n: 1
matrix:
  prompt: {prompts}
"""


def test_recipe_lock_and_matrix_values_stay_in_their_cells(tmp_path: Path) -> None:
    """Through the command: a hostile folder name, matrix values, and a lock's orphaned key,
    model and recorded fields each stay text in their cell."""
    folder = tmp_path / "recipes" / "[x](https:evil)`<b>"
    folder.mkdir(parents=True)
    prompts = [v for v in HOSTILE if "\n" not in v and "\r" not in v]
    (folder / "fox.yaml").write_text(FOXES.format(prompts=json.dumps(prompts)))
    jobs: dict = {"recipes/a|b`.yaml::![i](https://evil.example/i.png)": {"model": "<img src=x>"}}
    key = f"recipes/{folder.name}/fox.yaml::fox[prompt={prompts[0]}]"
    jobs[key] = {
        "fingerprint": "sha256:0",
        "fields": {"[a](https://evil.example)": 1},
        "target": "emulator",  # made where `report` plans: the target is no change
    }
    (tmp_path / "wanform.lock").write_text(json.dumps({"version": 1, "jobs": jobs}))
    done = wanform(tmp_path, "report", "--plan", "-o", "markdown")
    rows = _rows(done.stdout)
    keys = sorted(_shown(row[0])[0] for row in rows)
    declared = [f"recipes/{folder.name}/fox.yaml::fox[prompt={p}]" for p in prompts]
    assert keys == sorted([*jobs][:1] + declared)
    shown = {_shown(row[0])[0]: [_shown(cell) for cell in row[1:]] for row in rows}
    assert shown[[*jobs][0]] == [["<img src=x>"], ["complete"], ["orphaned"], []]
    assert shown[key][-1] == ["[a](https://evil.example)", "model", "n", "prompt"]
