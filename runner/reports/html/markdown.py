"""`wanform report -o markdown`: the report as a CI job summary or a pull-request comment."""

from __future__ import annotations

import re
from typing import TextIO

from wanform.runner.api.targets import made_on_words
from wanform.runner.reports.history import RunSummary
from wanform.runner.reports.html.page import Report

_TICKS = re.compile(r"`+")


def _code(text: object) -> str:
    """`text` as a code span that holds in a GitHub table cell: whitespace made single spaces (a
    line break would end the row), pipes escaped (the table unescapes them before the span is
    read), fenced by one backtick more than its longest run. Nothing in a code span is a link, an
    image, HTML, an autolink or a mention."""
    shown = " ".join(str(text).split()).replace("|", "\\|")
    if not shown:
        return ""
    fence = "`" * (max(map(len, _TICKS.findall(shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _run_line(run: RunSummary) -> str:
    states = ", ".join(f"{n} {s}" for s, n in run.get("states", {}).items()) or "no jobs"
    cost = sum(run.get("cost_cny", {}).values())
    return (
        f"Last run ({run.get('finished_at')}, {made_on_words(run['target'])}, "
        f"wanform {run.get('wanform')}): "
        f"{states}; {run.get('images', 0)} images made, {run.get('failed_images', 0)} failed; "
        f"{run.get('requests', 0)} requests, {run.get('throttled', 0)} throttled (429); "
        f"about {cost:.2f} CNY at list price; {run.get('wall_seconds', 0):.1f} s"
    )


def write(report: Report, out: TextIO) -> None:
    """Counts, then one table row per job: state, plan verdict and what changed, each value a
    code span."""
    out.write(f"## {report.title}\n\n")
    out.write((_run_line(report.run) if report.run else "No run recorded yet.") + "\n\n")
    counts: dict[str, int] = {}
    for c in report.cards:
        counts[c["state"]] = counts.get(c["state"], 0) + 1
    out.write(
        f"{len(report.cards)} jobs: "
        + (", ".join(f"{n} {_code(s)}" for s, n in sorted(counts.items())) or "none")
        + "\n"
    )
    if report.plan is not None:
        out.write("Plan: " + ", ".join(f"{n} {s}" for s, n in sorted(report.plan.items())) + "\n")
    if not report.cards:
        return
    out.write("\n| job | model | state | plan | what changed |\n|---|---|---|---|---|\n")
    for c in report.cards:
        row = [_code(c[k]) for k in ("key", "model", "state", "plan")]
        row.append(", ".join(_code(r) for r in c["reasons"]))
        out.write("| " + " | ".join(row) + " |\n")
