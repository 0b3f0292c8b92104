"""One card per job: what the recipe asks (inputs with boxes, palette, prompt, parameters) and what
the lock, the sidecar and the last run say came of it. Plain dicts, ready for the templates."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wanform.runner.api.targets import made_on_words
from wanform.runner.engine.outputs import Sidecar, read_sidecar
from wanform.runner.engine.states import PARTIAL, SKIPPED, SUCCEEDED
from wanform.runner.gitops.links import recorded_outputs
from wanform.runner.gitops.lockfile import LockEntry, LockOutput
from wanform.runner.gitops.plan import CHANGED, PlannedJob
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.recipes.references import Link
from wanform.runner.recipes.table import text_of
from wanform.runner.reports.history import COMPLETE, OUTDATED, RunJob, report_state
from wanform.runner.reports.html.stored import thumb_name
from wanform.runner.reports.html.thumbs import Thumb, ThumbError, cached
from wanform.runner.reports.html.times import moment, moments
from wanform.runner.storage.location import is_stored
from wanform.spec.problems import json_path

# Makes (or finds) the thumbnail of an image; `own` for wanform's outputs.
Thumbnailer = Callable[[Path, bool], Thumb]


@dataclass(frozen=True)
class Places:
    """Where things are: the project root, the report folder, its thumbnail cache."""

    root: Path
    report: Path
    thumbs: Path
    # a stored output's URI -> the sha256 the lock records of it, and its presigned URL
    signed: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def link(self, path: Path) -> str:
        """`path` as the page links it: relative to the report folder, each name percent-encoded,
        so that no file name (`javascript:x`, `\\\\host`, `?`, `#`) reads as a scheme, a host, a
        query or markup: every link is a relative path to the file itself."""
        relative = Path(os.path.relpath(path.resolve(), self.report.resolve())).as_posix()
        return quote(relative, safe="/", errors="surrogateescape")


def picture(path: Path, places: Places, make: Thumbnailer, own: bool) -> dict:
    """An image as the page shows it: thumbnail and link, or why there is no thumbnail."""
    shown: dict = {"href": places.link(path), "name": path.name}
    try:
        thumb = make(path, own)
    except ThumbError as exc:
        return shown | {"error": str(exc)}
    return shown | {
        "src": places.link(places.thumbs / thumb.name),
        "width": thumb.width,
        "height": thumb.height,
        "source_width": thumb.source_width,
        "source_height": thumb.source_height,
    }


def boxes(shown: dict, image: int, bboxes: list) -> list[dict]:
    """Overlays for an input's boxes, in percent of the image, numbered `image.box` as the API
    counts them (images and their boxes from 1, in the order given)."""
    w, h = shown.get("source_width"), shown.get("source_height")
    if not (w and h):
        return []
    out = []
    for number, (x1, y1, x2, y2) in enumerate(bboxes, 1):
        out.append(
            {
                "label": f"{image}.{number}",
                "box": [x1, y1, x2, y2],
                "left": 100 * x1 / w,
                "top": 100 * y1 / h,
                "width": 100 * (x2 - x1) / w,
                "height": 100 * (y2 - y1) / h,
            }
        )
    return out


def inputs(
    checked: CheckedJob, places: Places, make: Thumbnailer, jobs: Mapping[str, LockEntry]
) -> list[dict]:
    """The request's images in order (image 1, 2, ...), each with its boxes and the lock's name
    of its field; an image another job makes links to that job; a mask lies over image 1."""
    declared = checked.job.values.get("inputs") or []
    links = {link.body_path: link for link in checked.links}
    shown = []
    number = 0
    for ref in checked.request.images:
        number += ref.role == "input"
        label = f"image {number}" if ref.role == "input" else ref.role
        field = json_path(ref.recipe_path if ref.role == "mask" else (*ref.recipe_path, "image"))
        entry: dict = {"label": label, "kind": ref.kind, "field": field}
        if ref.kind == "path":
            local = _local(checked, ref.value)
            entry["source"] = Path(os.path.relpath(local, places.root)).as_posix()
            entry |= picture(local, places, make, own=False)
        elif ref.kind == "from" and ref.body_path in links:
            entry |= chained(links[ref.body_path], jobs, places, make)
        else:
            entry["text"] = {"url": ref.value, "data": "data: URI"}.get(
                ref.kind, f"from {ref.value}"
            )
        spec = declared[number - 1] if ref.role == "input" and number <= len(declared) else {}
        entry["boxes"] = boxes(entry, number, spec.get("bboxes") or [])
        shown.append(entry)
    return _masked(shown)


def chained(link: Link, jobs: Mapping[str, LockEntry], places: Places, make: Thumbnailer) -> dict:
    """An input another job makes: that job's image as the lock records it, linking its card."""
    found: dict = {"upstream": link.upstream, "image": link.image}
    path = recorded_outputs(jobs.get(link.upstream) or {}, "path").get(link.image)
    if path is None:
        return found | {"text": "not made yet"}
    return found | {"source": path} | picture(places.root / path, places, make, own=True)


def _masked(shown: list[dict]) -> list[dict]:
    """The mask drawn over image 1 (what the edit may change), when both have thumbnails."""
    masks = [i for i in shown if i["label"] == "mask" and i.get("src")]
    first = next((i for i in shown if i["label"] == "image 1" and i.get("src")), None)
    if not masks or first is None:
        return shown
    first["mask"] = masks[0]
    return [i for i in shown if i is not masks[0]]


def _local(checked: CheckedJob, value: str) -> Path:
    return checked.job.recipe.abspath.parent / value


def images(
    checked: CheckedJob | None, entry: LockEntry | None, root: Path
) -> list[tuple[Path, bool]]:
    """Every local image a card shows, with whether it is wanform's own output."""
    shown = []
    if checked is not None:
        refs = checked.request.images
        shown = [(_local(checked, ref.value), False) for ref in refs if ref.kind == "path"]
    outputs = (entry or {}).get("outputs", [])
    return shown + [(root / o["path"], True) for o in outputs if not is_stored(o["path"])]


def palette(checked: CheckedJob) -> list[dict]:
    """Swatches: hex colour and ratio as the recipe gives them."""
    return [
        {"hex": str(c.get("hex", "")), "ratio": str(c.get("ratio", ""))}
        for c in checked.job.values.get("palette") or []
    ]


def row(checked: CheckedJob | None) -> dict[str, str]:
    """A data-driven job's row, cell by cell as text; empty for other jobs."""
    fields = checked.job.fields if checked is not None else {}
    return {str(column): text_of(cell) for column, cell in fields.items()}


def sidecar(entry: LockEntry | None, root: Path) -> Sidecar | None:
    """The job's sidecar, or None when there is none or it cannot be read."""
    name = (entry or {}).get("sidecar")
    return read_sidecar(root / name) if name else None


def parameters(checked: CheckedJob | None, side: Sidecar | None) -> dict:
    """Every parameter sent (the sidecar's record of it), else what would be sent."""
    sent = side["request"] if side else None
    body: Mapping[str, Any] | None = sent["body"] if sent else None
    if body is None and checked is not None:
        body = checked.request.body
    if body is None:
        return {}
    shown = {k: v for k, v in (body.get("parameters") or {}).items() if k != "color_palette"}
    function = (body.get("input") or {}).get("function")
    return {"function": function, **shown} if function else shown


def outputs(entry: LockEntry | None, places: Places, make: Thumbnailer) -> list[dict]:
    """The images the lock records, each as a thumbnail linking the full file."""
    shown = []
    for output in (entry or {}).get("outputs", []):
        if is_stored(output["path"]):
            shown.append(stored_picture(output, places))
            continue
        path = places.root / output["path"]
        shown.append(picture(path, places, make, own=True) | {"path": output["path"]})
    return shown


def stored_picture(output: LockOutput, places: Places) -> dict:
    """An image in the store: its cached thumbnail, linking the presigned URL (or saying why
    there is none)."""
    uri = output["path"]
    shown: dict = {"name": uri.rsplit("/", 1)[-1], "path": uri}
    sha256 = output.get("sha256", "")
    digest, signed = places.signed.get(uri, ("", ""))
    if digest != sha256:  # the URI holds another image now (a store keeps the latest only)
        return shown | {"href": "", "error": "not this image in the store any more"}
    width, height = output.get("width") or 0, output.get("height") or 0
    thumb = cached(places.thumbs, thumb_name(sha256), width, height) if sha256 else None
    if not signed or thumb is None:
        return shown | {"href": "", "error": "not found in the store, or not readable"}
    return shown | {
        "href": signed,
        "src": places.link(places.thumbs / thumb.name),
        "width": thumb.width,
        "height": thumb.height,
        "source_width": width,
        "source_height": height,
    }


def card(
    planned: PlannedJob,
    entry: LockEntry | None,
    last: RunJob | None,
    places: Places,
    make: Thumbnailer,
    jobs: Mapping[str, LockEntry],
) -> dict:
    """Everything the page shows about one job; `jobs` is the lock's, for chained inputs."""
    checked = planned.checked
    changed = _outdated(planned, entry)
    side = sidecar(entry, places.root)
    recipe, _, job = planned.key.partition("::")
    failures = list((entry or {}).get("failures") or [])
    values = checked.job.values if checked is not None else {}
    state = report_state(last["state"] if last else None, entry)
    return {
        "key": planned.key,
        "recipe": recipe,
        "line": _line(checked),
        "job": job,
        "model": planned.model,
        "prompt": str(values.get("prompt", "")),
        "negative_prompt": values.get("negative_prompt"),
        # a changed job's sidecar tells the earlier request: show the one a run would send
        "parameters": parameters(checked, None if changed else side),
        "inputs": inputs(checked, places, make, jobs) if checked is not None else [],
        "palette": palette(checked) if checked is not None else [],
        "row": row(checked),
        "outputs": outputs(entry, places, make),
        "made": made(entry, last, changed),
        "made_on": made_on_words(str((entry or {}).get("target") or "")),
        "texts": list(side["texts"]) if side else [],
        "failures": failures,
        "error": last["error"] if last else None,
        "state": OUTDATED if changed and state in (COMPLETE, PARTIAL) else state,
        "plan": planned.status,
        "reasons": planned.reasons,
        "changes": [],
        "task_id": (entry or {}).get("task_id") or (last["task_id"] if last else None),
        "timings": moments({**side["timings"], **side["service_times"]}) if side else [],
        "previous": [],
    }


def made(entry: LockEntry | None, last: RunJob | None, changed: bool) -> dict | None:
    """When the lock's outputs were made, and why they are not current (None when they are): the
    job changed since, or the last run ran it and made none (it failed, or was blocked)."""
    if not (entry or {}).get("outputs"):
        return None
    when = moment(str((entry or {}).get("finished") or "an earlier run"))
    if changed:
        return when | {"why": "before this change"}
    if last is not None and last["state"] not in (SUCCEEDED, PARTIAL, SKIPPED):
        return when | {"why": f"before the last run, in which it {last['state']}"}
    return None


def _outdated(planned: PlannedJob, entry: LockEntry | None) -> bool:
    """Whether the lock's entry was made by an earlier request than the job's (a plan against
    another lock, `--base`, may call a job changed that a run has made since)."""
    found = planned.fingerprint
    return (
        planned.status == CHANGED
        and entry is not None
        and found is not None
        and entry.get("fingerprint") != found.digest
    )


def _line(checked: CheckedJob | None) -> int | None:
    if checked is None:
        return None
    return checked.job.recipe.location(checked.job.origin("model"), key=True).line
