"""One card per job: what the recipe asks (inputs with boxes, palette, prompt, parameters) and what
the lock, the sidecar and the last run say came of it. Plain dicts, ready for the templates."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wanform.runner.engine.outputs import Sidecar, read_sidecar
from wanform.runner.gitops.lockfile import LockEntry
from wanform.runner.gitops.plan import PlannedJob
from wanform.runner.recipes.check import CheckedJob
from wanform.runner.recipes.table import text_of
from wanform.runner.reports.history import RunJob, report_state
from wanform.runner.reports.html.thumbs import Thumb, ThumbError

# Makes (or finds) the thumbnail of an image; `own` for wanform's outputs.
Thumbnailer = Callable[[Path, bool], Thumb]


@dataclass(frozen=True)
class Places:
    """Where things are: the project root, the report folder, its thumbnail cache."""

    root: Path
    report: Path
    thumbs: Path

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


def inputs(checked: CheckedJob, places: Places, make: Thumbnailer) -> list[dict]:
    """The request's images in order (image 1, 2, ..., then a mask), each with its boxes."""
    declared = checked.job.values.get("inputs") or []
    shown = []
    number = 0
    for ref in checked.request.images:
        number += ref.role == "input"
        label = f"image {number}" if ref.role == "input" else ref.role
        entry: dict = {"label": label, "kind": ref.kind}
        if ref.kind == "path":
            entry |= picture(_local(checked, ref.value), places, make, own=False)
        else:
            entry["text"] = ref.value if ref.kind == "url" else "data: URI"
        spec = declared[number - 1] if ref.role == "input" and number <= len(declared) else {}
        entry["boxes"] = boxes(entry, number, spec.get("bboxes") or [])
        shown.append(entry)
    return shown


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
    return shown + [(root / o["path"], True) for o in (entry or {}).get("outputs", [])]


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
        path = places.root / output["path"]
        shown.append(picture(path, places, make, own=True) | {"path": output["path"]})
    return shown


def card(
    planned: PlannedJob,
    entry: LockEntry | None,
    last: RunJob | None,
    places: Places,
    make: Thumbnailer,
) -> dict:
    """Everything the page shows about one job."""
    checked = planned.checked
    side = sidecar(entry, places.root)
    recipe, _, job = planned.key.partition("::")
    failures = list((entry or {}).get("failures") or [])
    values = checked.job.values if checked is not None else {}
    return {
        "key": planned.key,
        "recipe": recipe,
        "line": _line(checked),
        "job": job,
        "model": planned.model,
        "prompt": str(values.get("prompt", "")),
        "negative_prompt": values.get("negative_prompt"),
        "parameters": parameters(checked, side),
        "inputs": inputs(checked, places, make) if checked is not None else [],
        "palette": palette(checked) if checked is not None else [],
        "row": row(checked),
        "outputs": outputs(entry, places, make),
        "failures": failures,
        "error": last["error"] if last else None,
        "state": report_state(last["state"] if last else None, entry),
        "plan": planned.status,
        "reasons": planned.reasons,
        "task_id": (entry or {}).get("task_id") or (last["task_id"] if last else None),
        "timings": {**side["timings"], **side["service_times"]} if side else {},
        "previous": [],
    }


def _line(checked: CheckedJob | None) -> int | None:
    if checked is None:
        return None
    return checked.job.recipe.location(checked.job.origin("model"), key=True).line
