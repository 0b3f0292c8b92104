"""The object-storage side: upload policies, the form upload they point to, result downloads.

`GET /api/v1/uploads?action=getPolicy&model=M` hands out a policy whose `upload_host` is the
emulator itself (`/__oss/upload`); `GET /__results/<token>.png?...` serves result images.
Refusals on the two object-storage paths are answered as OSS does, in XML (see
`wanform.emulator.app`).
"""

from __future__ import annotations

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.http import HttpProcessingError

from wanform.emulator.errors import OssError, bad_request, invalid_parameter
from wanform.emulator.http.connections import deadline
from wanform.emulator.http.context import (
    EMULATOR,
    base_url,
    caller,
    note,
    request_id,
    service_date,
)
from wanform.emulator.http.faultinjection import checkpoint, faulty
from wanform.emulator.state.results import RESULTS_PREFIX
from wanform.emulator.state.uploads import FIELD_MAX_BYTES
from wanform.spec.errors import EMPTY_MODEL, MODEL_NOT_EXIST, URL_ERROR
from wanform.spec.models import MB, UPLOAD_MAX_FILE_MB

UPLOAD_PATH = "/__oss/upload"
OSS_PATHS = (RESULTS_PREFIX, UPLOAD_PATH)
PART_CHUNK = 256 * 1024


async def get_policy(request: web.Request) -> web.Response:
    """GET /api/v1/uploads?action=getPolicy&model=M."""
    emulator = request.app[EMULATOR]
    account = caller(request)
    if request.query.get("action") != "getPolicy":
        raise invalid_parameter(URL_ERROR)
    model = request.query.get("model")
    if not model:
        raise bad_request("BadRequest.EmptyModel", EMPTY_MODEL)
    if model not in emulator.config.models:
        raise invalid_parameter(MODEL_NOT_EXIST)
    note(request, model=model)
    emulator.throttle.policy(account, model)
    await checkpoint(request, account, model)
    data = emulator.uploads.policy(account, base_url(request) + UPLOAD_PATH)
    return web.json_response({"request_id": request_id(request), "data": data})


async def _read_part(part: BodyPartReader, limit: int, too_large: OssError) -> bytes:
    chunks = []
    total = 0
    while chunk := await part.read_chunk(PART_CHUNK):
        total += len(chunk)
        if total > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_form(request: web.Request) -> tuple[dict[str, str], bytes | None]:
    """The form fields and the file of an OSS PostObject request, each within its size limit, all
    within `request_seconds`."""
    malformed = OssError(
        400,
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
    )
    too_large = OssError(
        400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."
    )
    if not request.content_type.startswith("multipart/form-data"):
        raise malformed
    fields: dict[str, str] = {}
    data = None
    try:
        async with deadline(request):
            async for part in await request.multipart():
                if not isinstance(part, BodyPartReader) or not part.name:
                    raise malformed
                if part.name == "file":
                    data = await _read_part(part, UPLOAD_MAX_FILE_MB * MB, too_large)
                else:
                    value = await _read_part(part, FIELD_MAX_BYTES, too_large)
                    fields[part.name] = value.decode("utf-8", "replace")
    # HttpProcessingError: a part header aiohttp cannot parse (control bytes, say);
    # RequestPayloadError: a body that ends early or cannot be decoded
    except (
        ValueError,
        AssertionError,
        RuntimeError,
        HttpProcessingError,
        web.RequestPayloadError,
    ):
        raise malformed from None
    return fields, data


async def form_upload(request: web.Request) -> web.Response:
    """POST /__oss/upload, where `upload_host` points; answers `success_action_status`."""
    emulator = request.app[EMULATOR]
    await checkpoint(request)
    fields, data = await _read_form(request)
    note(request, account=emulator.uploads.accept(fields, data))
    status = fields.get("success_action_status", "204")
    return web.Response(status=int(status) if status in ("200", "201", "204") else 204)


async def download(request: web.Request) -> web.StreamResponse:
    """GET a result file; fault rules for `result` (and the task's own) may delay or cut it."""
    emulator = request.app[EMULATOR]
    file = emulator.results.lookup(request.match_info["name"], request.query)
    task = file.task
    note(request, account=task.account.key_id, model=task.brief.model, task_id=task.task_id)
    faults = await checkpoint(
        request, task.account, task.brief.model, task.brief.prompt, extra=task.rules
    )
    png = await emulator.results.png(file)
    if faults.decision.action("cut"):
        return await _cut_off(request, png)
    return web.Response(body=png, content_type="image/png")


async def _cut_off(request: web.Request, png: bytes) -> web.StreamResponse:
    """Promise the whole file, send half of it, then close the connection."""
    response = web.StreamResponse(
        headers={"Content-Type": "image/png", hdrs.DATE: service_date(request)}
    )
    response.content_length = len(png)
    await response.prepare(request)
    await response.write(png[: len(png) // 2])
    if request.transport is not None:
        request.transport.close()
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/uploads", faulty("policy", get_policy))
    app.router.add_post(UPLOAD_PATH, faulty("upload", form_upload))
    app.router.add_get(RESULTS_PREFIX + "{name}", faulty("result", download))
