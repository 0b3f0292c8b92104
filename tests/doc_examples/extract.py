"""Find the JSON examples in the API documents and read them back at a manifest location.

The documents live outside the repository: in $WANFORM_SHARED (default: shared/ beside the checkout), pages in
`docs/*.txt` and the digest `API-FACTS.md`. Run as a script to list every block found and
whether manifest.json accounts for it:

    python tests/doc_examples/extract.py
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
MANIFEST = HERE / "manifest.json"
# The documents sit beside the checkout (../shared), as on the team's machines and in CI.
SHARED = Path(os.environ.get("WANFORM_SHARED", HERE.parents[2] / "shared"))
DOCUMENTS = ("docs/000_796ba96f5f3b8baa.txt", "docs/001_91bb320474e36b8e.txt", "docs/002_00be4d655cb09078.txt",
             "docs/003_8e8aeec41555ebeb.txt", "docs/004_e5fe747c946e3e46.txt", "API-FACTS.md")
CURL_BODY = re.compile(r"(?:--data|--data-raw|-d) '\{")
START = re.compile(r"[{\[]")
# Minimal repairs for blocks that are JSON but for Python syntax; a manifest source names the one it needs.
FIXES = {
    "strip-comments": lambda text: re.sub(r"[ \t]*#[^\n]*", "", text),
    "single-quotes": lambda text: text.replace("'", '"'),
}
DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Block:
    """A place in a document where a JSON value starts, or seems to: `text` is the value's raw text if it parsed."""

    doc: str
    line: int  # 1-based, as `cat -n` numbers them
    end_line: int
    text: str
    parsed: bool
    value: object = None


def lines_of(doc: str) -> list[str]:
    """The lines of a document, split on newlines only (so numbers match `cat -n`)."""
    return (SHARED / doc).read_text(encoding="utf-8").split("\n")


def decode_at(doc: str, line: int, fix: str | None = None, lines: list[str] | None = None) -> Block:
    """Decode the JSON value that starts at the first `{` or `[` of `line`, after an optional named fix."""
    lines = lines_of(doc) if lines is None else lines
    first = lines[line - 1]
    match = START.search(first)
    if match is None:
        return Block(doc, line, line, first, False)
    rest = "\n".join([first[match.start():], *lines[line:]])
    if fix is not None:
        rest = FIXES[fix](rest)
    try:
        value, end = DECODER.raw_decode(rest)
    except json.JSONDecodeError:
        return Block(doc, line, line, rest.split("\n", 1)[0], False)
    text = rest[:end]
    return Block(doc, line, line + text.count("\n"), text, True, value)


def _starts_block(doc: str, line: str) -> bool:
    if doc.endswith(".md"):
        return False  # in the digest only fenced ```json blocks count, found by _fence_starts
    return line.lstrip().startswith("{") or CURL_BODY.search(line) is not None


def _fence_starts(lines: list[str]) -> list[int]:
    return [number + 1 for number, line in enumerate(lines, start=1) if line.strip() == "```json"]


def blocks(doc: str) -> list[Block]:
    """Every `{`-starting block of a page (every ```json fence of the digest), nested ones folded into their parent."""
    lines = lines_of(doc)
    starts = _fence_starts(lines) if doc.endswith(".md") else []
    starts += [number for number, line in enumerate(lines, start=1) if _starts_block(doc, line)]
    found: list[Block] = []
    for number in sorted(starts):
        if found and found[-1].parsed and number <= found[-1].end_line:
            continue
        found.append(decode_at(doc, number, lines=lines))
    return found


def manifest() -> dict:
    """The manifest of extracted examples."""
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def accounted(block: Block, entries: dict) -> bool:
    """Whether a manifest example source or a `skipped` entry spans the block's first line."""
    spans = [source for example in entries["examples"] for source in example["sources"]] + entries["skipped"]
    return any(span["doc"] == block.doc and span["line"] <= block.line <= span["end_line"] for span in spans)


def main() -> None:
    """List every block with its state: `ok` (in the manifest), `MISSING`, and whether it parsed."""
    entries = manifest()
    for doc in DOCUMENTS:
        for block in blocks(doc):
            state = "ok" if accounted(block, entries) else "MISSING"
            kind = "json" if block.parsed else "not-json"
            print(f"{state:7} {doc}:{block.line}-{block.end_line} {kind} {block.text[:60]!r}")


if __name__ == "__main__":
    main()
