"""Data URIs, the documented way to send an image inline: `data:{MIME_type};base64,{data}`
(pages 000 and 003). One parser for the runner (provenance, curl), recipes and the emulator.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

HEAD = re.compile(r"^(?i:data:)(?P<mime>[^;,]*)(?P<params>[^,]*),")
MIME = re.compile(r"[\w.+-]+/[\w.+-]+")
SHAPE = "data:{MIME_type};base64,{data}"


@dataclass(frozen=True)
class DataUri:
    """A `data:` URI split at its first comma: `head` ends with the comma, `payload` follows it."""

    head: str
    mime: str  # as written ("" when absent)
    params: str  # what follows the MIME type in the head, such as ";base64"
    payload: str

    @property
    def is_base64(self) -> bool:
        """Whether the head is well formed and says the payload is base64, as the service needs."""
        return self.params.lower().endswith(";base64") and (
            not self.mime or MIME.fullmatch(self.mime) is not None
        )

    def decoded_size(self) -> int:
        """Bytes the payload decodes to, computed without decoding it."""
        padding = self.payload.endswith("==") + self.payload.endswith("=")
        return len(self.payload) * 3 // 4 - padding

    def lenient_bytes(self) -> bytes:
        """The payload's bytes as well as they can be read (for digests of what was sent)."""
        try:
            return base64.b64decode(self.payload)
        except (binascii.Error, ValueError):
            return self.payload.encode("ascii", "replace")


def is_data_uri(text: str) -> bool:
    """Whether `text` uses the `data:` scheme, well formed or not."""
    return text[:5].lower() == "data:"


def parse(text: str) -> DataUri | None:
    """`text` as a data URI, or None when it is not one (no `data:` prefix or no comma)."""
    match = HEAD.match(text)
    if match is None:
        return None
    return DataUri(match.group(0), match["mime"], match["params"], text[match.end() :])


def decode(text: str) -> tuple[str | None, bytes]:
    """The lower-cased MIME type (None if absent) and bytes of a base64 data URI; ValueError if
    it is not one or its base64 is malformed."""
    uri = parse(text)
    if uri is None or not uri.is_base64:
        raise ValueError(f"not a base64 data URI ({SHAPE})")
    try:
        data = base64.b64decode(uri.payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the base64 data of the data URI is malformed") from exc
    return (uri.mime.lower() or None), data


def decoded_size(text: str) -> int:
    """Bytes a data URI's payload decodes to (the whole text's, if it is not a data URI)."""
    uri = parse(text)
    return (uri or DataUri("", "", "", text)).decoded_size()
