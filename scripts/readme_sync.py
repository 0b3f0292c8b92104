"""Regenerate the README's parts that the code decides: the guesses table (spec/guesses.yaml)
and the parity suite's counts (its cases, the shipped expectations, what a recording bills).

    python scripts/readme_sync.py          # rewrite README.md in place

tests/test_readme.py fails while README.md differs from what this writes.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from wanform.runner.contract import snapshots
from wanform.runner.contract.cases import SUITE
from wanform.runner.contract.compare import summary
from wanform.runner.contract.reach import bill
from wanform.spec.models import GUESSES

README = Path(__file__).resolve().parents[1] / "README.md"
TABLE = re.compile(r"^\| id \| default \| alternatives \|\n\|---\|---\|---\|\n(?:\|.*\|\n)*", re.M)
CHECK_LINE = re.compile(r"^\d+ cases played against the snapshots of docs .*$", re.M)
COST_LINE = re.compile(r"^\d+ cases would make .*$", re.M)
MAX_COST = re.compile(
    r"(wanform contract record --target dashscope --out snapshots/ --max-cost )\S+"
)


def guesses_table() -> str:
    """One row per guess: its id, its default and why, its alternatives."""
    rows = [
        f"| `{g.id}` | `{g.default}` ({g.why}) | {', '.join(f'`{v}`' for v in g.alternatives)} |"
        for g in GUESSES.values()
    ]
    return "| id | default | alternatives |\n|---|---|---|\n" + "\n".join(rows) + "\n"


def check_line() -> str:
    """What `wanform contract check` prints against the shipped expectations, which agree."""
    origin, shipped = snapshots.read(snapshots.SHIPPED)
    counts = Counter("unverified" if snap["unverified"] else "agrees" for snap in shipped.values())
    return summary(counts, origin)


def recording() -> tuple[str, str]:
    """What `record --target dashscope` says it may bill, and the --max-cost that accepts it."""
    playable = [case for case in SUITE if not case.emulator_only]
    cost = bill(playable)
    return f"{len(playable)} cases would make {cost.describe()}", f"{cost.most_cost:.2f}"


def regenerate(text: str) -> str:
    """`text` (the README) with its generated parts as the code has them now."""
    cost_line, max_cost = recording()
    for pattern, new in (
        (TABLE, guesses_table()),
        (CHECK_LINE, check_line()),
        (COST_LINE, cost_line),
    ):
        text, found = pattern.subn(lambda m, new=new: new, text, count=1)
        if not found:
            raise ValueError(f"README.md: no place for {pattern.pattern!r}")
    text, found = MAX_COST.subn(lambda m: m.group(1) + max_cost, text, count=1)
    if not found:
        raise ValueError(f"README.md: no place for {MAX_COST.pattern!r}")
    return text


def main() -> int:
    README.write_text(regenerate(README.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
