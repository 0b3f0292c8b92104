"""What a snapshot keeps of an answer: its shape (key paths and JSON types) and the few values a
contract is about, with anything that changes from call to call or could be a secret taken out.

Ids, times, URLs and request ids never reach a snapshot as values: a key path says they exist,
`scrub` turns them into placeholders inside the messages that are kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

JSON_TYPES = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
    (type(None), "null"),
)
# Longest first: a URL may hold a UUID, a time may look like digits.
PLACEHOLDERS = (
    (re.compile(r"(?i)\b(?:https?|oss)://[^\s\"'<>]+"), "<url>"),
    (re.compile(r"(?i)\bdata:[^\s\"'<>,]*,[A-Za-z0-9+/=]+"), "<data-uri>"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]+"), "<key>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{6,12}\b", re.I),
        "<id>",
    ),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?\b"), "<time>"),
    (re.compile(r"\b\d{14}\b"), "<time>"),  # the task list's YYYYMMDDhhmmss
)


def json_type(value: object) -> str:
    """The JSON type name of a decoded JSON value."""
    for kind, name in JSON_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def key_paths(document: object) -> dict[str, str]:
    """Every key path of a JSON document with its type: `output.results[].url: string`.

    Array items share one path (`[]`); an item whose type differs from an earlier one's adds
    `|type`, so a list that mixes URLs and errors shows both shapes.
    """
    out: dict[str, str] = {}
    _walk(document, "", out)
    return dict(sorted(out.items()))


def _walk(value: object, path: str, out: dict[str, str]) -> None:
    name = json_type(value)
    if path:
        known = out.get(path)
        if known is None:
            out[path] = name
        elif name not in known.split("|"):
            out[path] = "|".join(sorted({*known.split("|"), name}))
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for item in value:
            _walk(item, f"{path}[]", out)


def scrub(text: str) -> str:
    """`text` with URLs, data URIs, keys, ids and times replaced by placeholders."""
    for pattern, placeholder in PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return text


def error_of(body: object) -> tuple[str | None, str | None]:
    """The DashScope code and message an answer carries, top level or (a FAILED task) in
    `output`."""
    if not isinstance(body, Mapping):
        return None, None
    for where in (body, body.get("output")):
        if isinstance(where, Mapping) and isinstance(where.get("code"), str):
            message = where.get("message")
            return where["code"], scrub(message) if isinstance(message, str) else None
    return None, None


def image_count(body: object) -> int | None:
    """How many result images an answer holds (results-style URLs or messages-style images);
    None when it holds no result list at all."""
    output = body.get("output") if isinstance(body, Mapping) else None
    if not isinstance(output, Mapping):
        return None
    if isinstance(output.get("results"), list):
        return sum(1 for r in output["results"] if isinstance(r, Mapping) and "url" in r)
    if isinstance(output.get("choices"), list):
        return sum(
            1
            for choice in output["choices"]
            if isinstance(choice, Mapping) and isinstance(choice.get("message"), Mapping)
            for item in choice["message"].get("content") or []
            if isinstance(item, Mapping) and "image" in item
        )
    return None


def task_status(body: object) -> str | None:
    output = body.get("output") if isinstance(body, Mapping) else None
    status = output.get("task_status") if isinstance(output, Mapping) else None
    return status if isinstance(status, str) else None
