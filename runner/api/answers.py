"""Reading a finished task (or a sync answer): its images, its failed images, its text, its times.

Two documented shapes: `output.results[]` (wan2.5, wanx2.1: a URL, or a code and message per image)
and `output.choices[].message.content[]` (wan2.6, wan2.7: images, and text for interleaved output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

from wanform.runner.api.errors import WanformError
from wanform.runner.recipes.build import BuiltRequest
from wanform.spec.checks import select_mode
from wanform.spec.models import ENDED_STATUSES, Mode, TaskStatus
from wanform.spec.sizes import output_size, parse_explicit

# Statuses after which polling a task tells nothing more: it ended, or it is not (or no longer)
# known to the service.
POLL_ENDS = ENDED_STATUSES | {TaskStatus.UNKNOWN}
SERVICE_TIMES = ("submit_time", "scheduled_time", "end_time")
# modes that make exactly n images; image sets and interleaved output make "up to n"
EXACT_COUNT_MODES = frozenset({"edit", "text_to_image"})


class FailureRecord(TypedDict):
    """An image not made or not kept, as the journal, the lock and the sidecar record it."""

    index: int
    code: str
    message: str


@dataclass(slots=True)
class ImageFailure:
    """An image a task did not make, or the run did not keep: its number, code and message."""

    index: int
    code: str
    message: str

    def record(self) -> FailureRecord:
        """The failure as the journal, the lock and the sidecar record it."""
        return {"index": self.index, "code": self.code, "message": self.message}


@dataclass
class Outcome:
    """What a SUCCEEDED task made: result URLs by image number, failed images, interleaved text."""

    urls: dict[int, str] = field(default_factory=dict)
    failures: list[ImageFailure] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


def outcome(output: dict) -> Outcome:
    """The images (numbered from 1 in the order the service lists them) and failures of a task's
    output."""
    found = Outcome()
    if isinstance(output.get("results"), list):
        for index, item in enumerate(output["results"], 1):
            if isinstance(item, dict) and item.get("url"):
                found.urls[index] = str(item["url"])
            else:
                item = item if isinstance(item, dict) else {}
                found.failures.append(
                    ImageFailure(
                        index,
                        str(item.get("code") or "Unknown"),
                        str(item.get("message") or "no image and no reason given"),
                    )
                )
        return found
    for choice in output.get("choices") or []:
        for part in ((choice or {}).get("message") or {}).get("content") or []:
            if isinstance(part, dict) and part.get("image"):
                found.urls[len(found.urls) + 1] = str(part["image"])
            elif isinstance(part, dict) and part.get("text"):
                found.texts.append(str(part["text"]))
    return found


def expected_images(request: BuiltRequest) -> int | None:
    """How many images a request must make, when the API promises an exact count (not "up to n")."""
    spec, parameters = request.spec, request.body.get("parameters") or {}
    if spec.family != "messages":
        return None  # results style lists each failed image itself
    mode = _mode(request)
    return int(parameters.get("n", mode.n_default)) if mode.name in EXACT_COUNT_MODES else None


class WrongResultError(WanformError):
    """A result that cannot be what the job asked for: too many images, or the wrong size."""

    code = "WrongResult"
    hint = "the service returned something other than the request made; nothing was kept"


def _mode(request: BuiltRequest) -> Mode:
    parameters = request.body.get("parameters") or {}
    return select_mode(request.spec, parameters, sum(ref.role == "input" for ref in request.images))


def allowed_images(request: BuiltRequest) -> int:
    """The most images a request can make: `n`, or `max_images` for interleaved output."""
    return _mode(request).images_at_most(request.body.get("parameters") or {})


def fixed_size(request: BuiltRequest) -> tuple[int, int] | None:
    """Width and height of every image, when the request names them (`W*H`); else None."""
    size = (request.body.get("parameters") or {}).get("size")
    if request.spec.family == "imageedit" or not isinstance(size, str):
        return None
    if parse_explicit(size) is None:
        return None  # a tier or the default: the size follows the input images
    return output_size(request.spec, _mode(request), request.body["parameters"], None)


def disagreement(request: BuiltRequest, body: dict) -> str | None:
    """What a finished task's answer shows that the request cannot have made; None when
    nothing does (its usage: image count and size; its results' orig_prompt)."""
    raw = body.get("usage")
    usage: dict = raw if isinstance(raw, dict) else {}
    count, allowed = usage.get("image_count"), allowed_images(request)
    if isinstance(count, int) and count > allowed:
        return f"it made {count} images where the job allows {allowed}"
    size = fixed_size(request)
    if size is not None and "size" in usage and usage["size"] != f"{size[0]}*{size[1]}":
        return f"its images are {usage['size']} where the job asks for {size[0]}*{size[1]}"
    prompt = (request.body.get("input") or {}).get("prompt")
    for item in (body.get("output") or {}).get("results") or []:
        if isinstance(item, dict) and "orig_prompt" in item and item["orig_prompt"] != prompt:
            return "its prompt is not the job's"
    return None


def missing(found: Outcome, expected: int | None) -> list[ImageFailure]:
    """Failures for images the messages style leaves out of `choices` when some of the n fail."""
    if expected is None or len(found.urls) >= expected:
        return []
    note = f"the service returned {len(found.urls)} of the {expected} images asked for"
    return [ImageFailure(i, "NotReturned", note) for i in range(len(found.urls) + 1, expected + 1)]


def service_seconds(output: dict) -> float | None:
    """end_time minus submit_time as the service reports them (`2025-01-08 16:03:59.840`, read by
    `fromisoformat`: strptime costs 25 times as much, on every finished task); None when either is
    missing or unreadable, or one has a UTC offset and the other not."""
    try:
        start = datetime.fromisoformat(str(output["submit_time"]))
        end = datetime.fromisoformat(str(output["end_time"]))
        return (end - start).total_seconds()
    except (KeyError, ValueError, TypeError):
        return None


def service_times(output: dict) -> dict[str, str]:
    return {k: str(output[k]) for k in SERVICE_TIMES if k in output}
