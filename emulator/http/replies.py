"""The JSON bodies DashScope answers with, in the two documented styles.

Messages style (wan2.7, wan2.6): `output.choices` + `output.finished`, usage with size and
tokens. Results style (wan2.5, wanx2.1): `output.results` + `output.task_metrics`, usage with
image_count. Choices that the docs leave open are decided here:
- a FAILED task carries `code` and `message` inside `output` in both styles (the generic task
  doc's rule), with its times; results style adds `task_metrics`; there is no `usage`.
- in messages style, images that failed in a partial failure are left out of `choices`
  (DashScope documents no per-image error there); `usage.image_count` counts the rest.
- PENDING and RUNNING bodies carry `submit_time` (and `scheduled_time` once running);
  CANCELED carries `submit_time` and `end_time` (the moment of the cancel).
- interleaved output counts its text as output tokens.
Each is a guess (spec/guesses.yaml) that can be switched: `task.failed_output`,
`messages.partial_failure`, `task.pending_body`, `task.canceled_body`, `interleave.usage`.
"""

from __future__ import annotations

from collections.abc import Callable

from wanform.emulator.state.clock import epoch_ms, task_time
from wanform.emulator.state.tasks import Task
from wanform.spec.models import ENDED_STATUSES, OUTPUT_TOKENS_PER_IMAGE, TaskStatus

UrlFor = Callable[[Task, int], str]
REGION = "cn-beijing"
UNIQUE_KEY_PARTS = {
    "sync": "multimodal-generation:generation",
    "async": "image-generation:generation",
    "synthesis": "image2image:image-synthesis",
}


def created(task: Task, request_id: str) -> dict:
    """The answer to an async submission."""
    return {"output": {"task_status": "PENDING", "task_id": task.task_id}, "request_id": request_id}


def unknown(task_id: str, request_id: str) -> dict:
    return {
        "request_id": request_id,
        "output": {"task_id": task_id, "task_status": TaskStatus.UNKNOWN},
    }


def task(
    item: Task,
    now: float,
    request_id: str,
    url: UrlFor,
    bare: bool = False,
    failure_on_top: bool = False,
) -> dict:
    """GET /tasks/{id} for a known task, in its model's style. `bare`: only its id and status
    (the guesses `task.pending_body`, `task.canceled_body`); `failure_on_top`: a FAILED
    messages-style task's code and message sit beside request_id (`task.failed_output`)."""
    status = item.status(now)
    if bare:
        return {
            "request_id": request_id,
            "output": {"task_id": item.task_id, "task_status": status},
        }
    output: dict = {
        "task_id": item.task_id,
        "task_status": status,
        "submit_time": task_time(item.submitted),
    }
    if item.scheduled is not None:
        output["scheduled_time"] = task_time(item.scheduled)
    if status in ENDED_STATUSES:
        output["end_time"] = task_time(item.closed_at())
    body = {"request_id": request_id, "output": output}
    if status == TaskStatus.SUCCEEDED:
        output.update(_outcome(item, url))
        body["usage"] = usage(item)
    elif status == TaskStatus.FAILED:
        where = body if failure_on_top and item.brief.style != "results" else output
        where["code"], where["message"] = failure(item)
    if item.brief.style == "results":
        output["task_metrics"] = _metrics(item, status)
    return body


def sync(item: Task, request_id: str, url: UrlFor) -> dict:
    """The answer to a successful synchronous call."""
    return {"output": _outcome(item, url), "usage": usage(item), "request_id": request_id}


def failure(item: Task) -> tuple[str, str]:
    """Code and message of a FAILED task: a whole-task failure, or its first failed image's."""
    return item.failure or next(iter(item.failed_images.values()))


def usage(item: Task) -> dict:
    """Only successful images count."""
    brief = item.brief
    count = len(item.succeeded_indexes())
    if brief.style == "results":
        return {"image_count": count}
    interleaved = brief.style == "interleave" and brief.text_tokens
    text = sum(len(brief.text(i)) for i in range(brief.count)) if interleaved else 0
    tokens = (
        (brief.input_tokens, count * OUTPUT_TOKENS_PER_IMAGE + text) if brief.tokens else (0, 0)
    )
    return {
        "image_count": count,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "size": brief.size,
        "total_tokens": sum(tokens),
    }


def _outcome(item: Task, url: UrlFor) -> dict:
    if item.brief.style == "results":
        return {"results": _results(item, url)}
    return {"finished": True, "choices": _choices(item, url)}


def _image(url: str) -> dict:
    return {"image": url, "type": "image"}


def choice(content: list[dict], finish_reason: str = "stop") -> dict:
    return {"finish_reason": finish_reason, "message": {"role": "assistant", "content": content}}


def _choices(item: Task, url: UrlFor) -> list[dict]:
    ok = item.succeeded_indexes()
    brief = item.brief
    if brief.style == "choices":
        return [choice([_image(url(item, i))]) for i in ok]
    if brief.style == "set":
        return [choice([_image(url(item, i)) for i in ok])]
    content = []
    for i in range(brief.count):
        content.append({"text": brief.text(i), "type": "text"})
        if i in ok:
            content.append(_image(url(item, i)))
    return [choice(content)]


def _results(item: Task, url: UrlFor) -> list[dict]:
    out = []
    brief = item.brief
    for i in range(brief.count):
        if i in item.failed_images:
            code, message = item.failed_images[i]
            out.append({"code": code, "message": message})
            continue
        result = {"url": url(item, i)}
        if brief.orig_prompt:
            result["orig_prompt"] = brief.prompt
        if brief.actual_prompt:
            result["actual_prompt"] = f"{brief.prompt}, highly detailed, balanced composition"
        out.append(result)
    return out


def _metrics(item: Task, status: str) -> dict:
    total = item.brief.count
    succeeded = len(item.succeeded_indexes()) if status == TaskStatus.SUCCEEDED else 0
    failed = (
        total
        if status == TaskStatus.FAILED
        else (total - succeeded if status == TaskStatus.SUCCEEDED else 0)
    )
    return {"TOTAL": total, "SUCCEEDED": succeeded, "FAILED": failed}


def list_entry(item: Task, now: float) -> dict:
    """One task in GET /tasks: epoch-millisecond times, `end_time` only once it has ended."""
    status = item.status(now)
    account = item.account
    entry = {
        "api_key_id": account.key_id,
        "caller_parent_id": account.uid,
        "caller_uid": account.uid,
        "gmt_create": epoch_ms(item.submitted),
        "model_name": item.brief.model,
        "region": REGION,
        "request_id": item.request_id,
        "status": status,
        "task_id": item.task_id,
        "user_api_unique_key": (
            f"apikey:v1:aigc:{UNIQUE_KEY_PARTS[item.endpoint]}:{item.brief.model}"
        ),
    }
    if item.scheduled is not None:
        entry["start_time"] = epoch_ms(item.scheduled)
    if status in ENDED_STATUSES:
        entry["end_time"] = epoch_ms(item.closed_at())
    return entry


def stream(item: Task, request_id: str, url: UrlFor) -> list[dict]:
    """The SSE payloads of a streamed sync call: interleaved output piece by piece, other output
    at once.
    """
    if item.brief.style != "interleave":
        return [sync(item, request_id, url)]
    brief = item.brief
    ok = item.succeeded_indexes()
    pieces = []
    for i in range(brief.count):
        pieces.append({"text": brief.text(i), "type": "text"})
        if i in ok:
            pieces.append(_image(url(item, i)))
    events = []
    full = usage(item)
    for n, piece in enumerate(pieces, 1):
        images = sum(1 for p in pieces[:n] if p["type"] == "image")
        last = n == len(pieces)
        partial = dict(full, image_count=images, size=brief.size if images else "0*0")
        events.append(
            {
                "output": {
                    "choices": [choice([piece], "stop" if last else "null")],
                    "finished": last,
                },
                "usage": partial,
                "request_id": request_id,
            }
        )
    return events
