"""What a contract case is: the requests it sends, the answer the documents (or a guess) lead
to expect, and what it may bill.

A case's expectation here is only what `record` checks the shipped expectations against; the
comparison itself is between snapshots (see `wanform.runner.contract.compare`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from wanform.spec.checks import request_mode
from wanform.spec.models import (
    ASYNC_GENERATION_PATH,
    ASYNC_HEADER,
    HEADER_ON,
    MODELS,
    SYNC_PATH,
    SYNTHESIS_PATH,
    ModelSpec,
)

Auth = Literal["key", "none", "invalid"]
ASYNC: Mapping[str, str] = MappingProxyType({ASYNC_HEADER: HEADER_ON})
NO_HEADERS: Mapping[str, str] = MappingProxyType({})
UNKNOWN_TASK = "{unknown}"  # in a path: a well-formed task id that no account has
INVALID_KEY = "wanform-contract-invalid-key"  # not an `sk-` key: refused everywhere
CHEAPEST = min(MODELS.values(), key=lambda m: m.price_cny).name
SUBMISSION_PATHS = frozenset({ASYNC_GENERATION_PATH, SYNTHESIS_PATH, SYNC_PATH})


@dataclass(frozen=True)
class Call:
    """One request: method, path under the base URL, body (a str is sent as is), headers."""

    method: str
    path: str
    body: Mapping | str | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: NO_HEADERS)
    auth: Auth = "key"

    def describe(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Case:
    """One documented rule or guessed point, played as `calls`; the expectation (`status`,
    `code`, `message`) is about the answer to the cancel when the case cancels, else to the
    last call."""

    id: str
    rule: str  # the rule, in a sentence
    source: str  # where the documents say so (../shared/docs file numbers, API-FACTS sections)
    calls: tuple[Call, ...]
    status: int
    code: str | None = None
    message: str | None = None  # a message the documents give: compared exactly
    guess: str | None = None  # the spec/guesses.yaml id the expectation rests on
    model: str = CHEAPEST  # the model that bills, if anything does
    images: int = 0  # billable images when the answer is the expected one
    up_to: bool = False  # the documents say "up to": 1 to `images` images are expected
    streamed: bool | None = None  # whether the answer is an event stream (None: not the point)
    # cancel the first task: "after" it ended (documented: refused), "at-once" while the
    # emulator holds it PENDING
    cancel: Literal["", "after", "at-once"] = ""
    emulator_only: str = ""  # why only the emulator can play it; empty: any target
    fault: Mapping | None = field(default=None)  # an X-Wanform-Fault rule (emulator only)

    @property
    def price(self) -> float:
        return MODELS[self.model].price_cny

    @property
    def may_bill(self) -> bool:
        """Whether the service may make images: the expected answer has them or is a success,
        or it rests on a guess (a guessed refusal the service may accept)."""
        return self.images > 0 or self.guess is not None or 200 <= self.status < 300

    def at_most(self) -> list[tuple[str, int]]:
        """(model, images) of each submission the case sends, every count rule at its maximum
        (wanform.spec.models.Mode.images_at_most); nothing when it cannot bill."""
        bodies = [call.body for call in self.calls if call.path in SUBMISSION_PATHS]
        return [
            (body["model"], _images_at_most(MODELS[body["model"]], body))
            for body in bodies
            if self.may_bill and isinstance(body, Mapping) and body.get("model") in MODELS
        ]


def _images_at_most(spec: ModelSpec, body: Mapping) -> int:
    return request_mode(spec, body).images_at_most(body.get("parameters") or {})


def messages(model: str, content: list[dict], **parameters: object) -> dict:
    """A messages-style body (wan2.7, wan2.6)."""
    return {
        "model": model,
        "input": {"messages": [{"role": "user", "content": content}]},
        "parameters": parameters,
    }


def imageedit(base: str, function: str = "colorization", prompt: str = "colour it", **extra):
    """A wanx2.1-imageedit body; `mask_image_url` and `negative_prompt` go in input, the rest in
    parameters."""
    inp = {"function": function, "prompt": prompt, "base_image_url": base}
    for key in ("mask_image_url", "negative_prompt"):
        if key in extra:
            inp[key] = extra.pop(key)
    return {"model": "wanx2.1-imageedit", "input": inp, "parameters": {"n": 1, **extra}}


def generation(body: Mapping | str, **kwargs) -> Call:
    """An asynchronous messages-style submission."""
    kwargs.setdefault("headers", ASYNC)
    return Call("POST", ASYNC_GENERATION_PATH, body, **kwargs)


def synthesis(body: Mapping | str, **kwargs) -> Call:
    """An asynchronous submission to image2image/image-synthesis (wan2.5, wanx2.1)."""
    kwargs.setdefault("headers", ASYNC)
    return Call("POST", SYNTHESIS_PATH, body, **kwargs)


def sync(body: Mapping, headers: Mapping[str, str] = NO_HEADERS) -> Call:
    """A synchronous messages-style call."""
    return Call("POST", SYNC_PATH, body, headers)
