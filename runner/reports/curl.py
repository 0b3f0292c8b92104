"""`wanform render`: the exact request each job would send, as a runnable curl command, sending
nothing.

The key appears only as `$DASHSCOPE_API_KEY`, for the shell to fill in. An image that must go
through the temporary-upload flow has no `oss://` URL until the run uploads it; it is shown as a
placeholder.
"""

from __future__ import annotations

import json
import shlex
from typing import TextIO

from wanform.runner.recipes.check import CheckedJob
from wanform.runner.recipes.wire import Source, data_uri, load_sources, needs_upload, wire_request
from wanform.spec import datauri
from wanform.spec.models import HEADER_ON, OSS_RESOLVE_HEADER, OSS_SCHEME

SHORT_KEEP = 48


def shorten(value: str) -> str:
    """A data URI cut to its head and its length; other strings unchanged."""
    uri = datauri.parse(value)
    if uri is None or len(uri.payload) <= SHORT_KEEP:
        return value
    return f"{uri.head}{uri.payload[:SHORT_KEEP]}...({len(uri.payload)} base64 chars)"


def _shortened(data: object) -> object:
    if isinstance(data, dict):
        return {k: _shortened(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_shortened(v) for v in data]
    return shorten(data) if isinstance(data, str) else data


def _wire_value(source: Source) -> str:
    if source.data is None and source.ref.kind == "from":
        return f"<image {source.ref.image} of {source.ref.value}, sent when that job has made it>"
    if source.data is None:
        return source.ref.value
    if needs_upload(source):
        name = source.ref.value if source.ref.kind == "path" else source.name
        return f"{OSS_SCHEME}<uploaded at run time: {name}>"
    return data_uri(source)


def curl(checked: CheckedJob, base_url: str, synchronous: bool, short: bool) -> str:
    """The job's request as a shell command: headers, then the JSON body on stdin."""
    sources = load_sources(checked.request)
    values = {s.ref.body_path: _wire_value(s) for s in sources}
    request = wire_request(checked.job, values, synchronous)
    headers = {"Content-Type": "application/json", **request.headers()}
    if any(needs_upload(s) for s in sources):
        headers[OSS_RESOLVE_HEADER] = HEADER_ON
    body = _shortened(request.body) if short else request.body
    lines = [
        f"curl -sS -X POST {shlex.quote(base_url + request.path)}",
        '  -H "Authorization: Bearer $DASHSCOPE_API_KEY"',
    ]
    lines += [f"  -H {shlex.quote(f'{k}: {v}')}" for k, v in headers.items()]
    lines.append("  --data-binary @- <<'JSON'")
    return " \\\n".join(lines) + "\n" + json.dumps(body, indent=2, ensure_ascii=False) + "\nJSON\n"


def write_curls(
    jobs: list[CheckedJob],
    base_url: str,
    out: TextIO,
    synchronous: bool = False,
    short: bool = False,
) -> None:
    """Every job as a commented curl command."""
    for checked in jobs:
        job = checked.job
        mode = "sync" if synchronous and checked.request.spec.sync_path else "async"
        out.write(f"# {job.recipe.file}: {job.name} ({job.values['model']}, {mode})\n")
        if short:
            out.write("# --short: data URIs are abbreviated; this body cannot be sent as it is\n")
        out.write(curl(checked, base_url, synchronous, short) + "\n")
