"""The report page: cards for the jobs and the last run's summary, a static HTML file and a script.

Templates are Jinja2 with autoescaping, so anything a recipe says (a prompt with `<script>` in
it) reaches the page as text. CSS is inlined; the script is REPORT/report.js, so the page's
Content-Security-Policy allows no inline script (nor a `javascript:` link). Images are thumbnails
cached in REPORT/thumbs, linked to the full files. Nothing on the page loads from the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from wanform.runner.api.targets import made_on_words
from wanform.runner.files.atomic import write_atomic
from wanform.runner.gitops.lockfile import LockFile
from wanform.runner.gitops.plan import CHANGED, ORPHANED, UNCHANGED, Plan
from wanform.runner.reports.history import REPORT_STATES, RunSummary, last_states
from wanform.runner.reports.html.cards import Places, card, images
from wanform.runner.reports.html.changes import Before, changes
from wanform.runner.reports.html.thumbs import Thumb, ThumbError, thumbnail
from wanform.runner.reports.html.times import moment

TEMPLATES = Path(__file__).parent / "templates"
THUMBS = "thumbs"
PAGE = "index.html"
SCRIPT = "report.js"


@dataclass
class Report:
    """What the page and the Markdown summary show."""

    cards: list[dict]
    run: RunSummary | None
    plan: dict[str, int] | None = None
    title: str = "wanform report"
    states: tuple[str, ...] = REPORT_STATES
    models: list[str] = field(default_factory=list)


class Thumbnails:
    """Thumbnails into `cache`, each image at most once per report; `prefetch` makes many at once
    on worker threads (Pillow decodes without holding the GIL)."""

    def __init__(self, cache: Path, enabled: bool = True) -> None:
        self.cache = cache
        self.enabled = enabled  # off for Markdown, which shows no image
        self.made: dict[tuple[Path, bool], Thumb | ThumbError] = {}

    def _make(self, path: Path, own: bool) -> Thumb | ThumbError:
        if not self.enabled:
            return ThumbError("no thumbnails in this format")
        try:
            return thumbnail(path, self.cache, own)
        except ThumbError as exc:  # remembered, raised again for each card that shows it
            return exc

    def prefetch(self, images: list[tuple[Path, bool]]) -> None:
        todo = sorted(set(images) - self.made.keys())
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            for key, found in zip(todo, pool.map(lambda k: self._make(*k), todo), strict=True):
                self.made[key] = found

    def __call__(self, path: Path, own: bool) -> Thumb:
        key = (path, own)
        if key not in self.made:
            self.made[key] = self._make(path, own)
        found = self.made[key]
        if isinstance(found, ThumbError):
            raise found
        return found


def collect(
    plan: Plan,
    lock: LockFile,
    runs: list[RunSummary],
    places: Places,
    plan_only: bool = False,
    previous: Callable[[str], list[dict]] | None = None,
    base: LockFile | None = None,
    pictures: bool = True,
    before: Before | None = None,
) -> Report:
    """Cards for the declared jobs (with `plan_only`: for new, changed and orphaned ones), and
    the newest run's summary. A changed job says what changed since `base` (the lock the plan
    compared with, by default `lock`), its earlier inputs found by `before`; `previous` gives its
    earlier outputs, those `base` names: when `lock` still has that entry, the new outputs are
    not made yet."""
    base = base or lock
    make = Thumbnails(places.thumbs, pictures)
    shown_jobs = [
        job
        for job in plan.jobs
        if not (plan_only and job.status == UNCHANGED or not plan_only and job.status == ORPHANED)
    ]
    if pictures:
        make.prefetch(
            [
                i
                for job in shown_jobs
                for i in images(job.checked, lock.jobs.get(job.key), places.root)
            ]
        )
    last = last_states(runs)
    cards = []
    for job in shown_jobs:
        entry = lock.jobs.get(job.key)
        shown = card(job, entry, last.get(job.key), places, make, lock.jobs)
        if job.status == CHANGED and job.fingerprint is not None:
            old = (base.jobs.get(job.key) or {}).get("fields", {})
            found = before or (lambda image, identity: None)
            shown["changes"] = changes(old, job.fingerprint.fields, shown["inputs"], found)
        if previous is not None and job.status == CHANGED:
            shown["previous"] = previous(job.key)
            if base.jobs.get(job.key) == entry:  # what the card shows of it is the earlier run's
                shown["outputs"], shown["timings"], shown["texts"] = [], [], []
        cards.append(shown)
    counts: dict[str, int] = {}
    for job in plan.jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    return Report(
        cards,
        runs[-1] if runs else None,
        counts if plan_only else None,
        title="wanform plan" if plan_only else "wanform report",
        models=sorted({c["model"] for c in cards if c["model"]}),
    )


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        keep_trailing_newline=True,
    )


def render(report: Report) -> str:
    template = environment().get_template("report.html.j2")
    return template.render(
        title=report.title,
        run=report.run,
        run_target=made_on_words(report.run["target"]) if report.run else None,
        run_time=moment(report.run["finished_at"]) if report.run else None,
        plan=report.plan,
        show_plan=report.plan is not None,
        cards=report.cards,
        states=report.states,
        models=report.models,
        script=SCRIPT,
    )


def write(report: Report, folder: Path) -> Path:
    """Write REPORT/index.html and the script beside it, atomically; returns the page's path."""
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / SCRIPT, (TEMPLATES / SCRIPT).read_bytes())
    page = folder / PAGE
    write_atomic(page, render(report).encode("utf-8"))
    return page


def places(root: Path, folder: Path) -> Places:
    return Places(root, folder, folder / THUMBS)
