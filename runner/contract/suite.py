"""What a contract case is: the requests it sends, the answer the documents (or a guess) lead
to expect, and what it may bill.

A case's expectation here is only what `record` checks the shipped expectations against; the
comparison itself is between snapshots (see `wanform.runner.contract.compare`). A documented
case names its `Source`: a file of the API documents (../shared) and a short quote of it, which a
test finds in that file; a case without one rests on a guess of spec/guesses.yaml.
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
# The API documents a source may quote, by the name a case gives: the pages (../shared/docs) by
# number, and the digest of them (../shared/API-FACTS.md).
DOCUMENTS: Mapping[str, str] = MappingProxyType(
    {
        "000": "docs/000_796ba96f5f3b8baa.txt",
        "001": "docs/001_91bb320474e36b8e.txt",
        "002": "docs/002_00be4d655cb09078.txt",
        "003": "docs/003_8e8aeec41555ebeb.txt",
        "004": "docs/004_e5fe747c946e3e46.txt",
        "API-FACTS": "API-FACTS.md",
    }
)
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
class Source:
    """Where the documents state a rule: a file under ../shared and the words it says it in."""

    file: str  # a value of DOCUMENTS
    quote: str

    def __str__(self) -> str:
        return f"{self.file}: '{self.quote}'"


def cite(document: str, quote: str) -> Source:
    """A source in `document` (a key of DOCUMENTS: "003", "API-FACTS")."""
    return Source(DOCUMENTS[document], quote)


@dataclass(frozen=True)
class Case:
    """One documented rule or guessed point, played as `calls`; the expectation (`status`,
    `code`, `message`) is about the answer to the cancel when the case cancels, else to the
    last call."""

    id: str
    rule: str  # the rule, in a sentence
    source: Source | None  # where the documents say so; None: the case rests on `guess`
    calls: tuple[Call, ...]
    status: int
    code: str | None = None
    message: str | None = None  # a message the documents give: compared exactly
    guess: str | None = None  # the spec/guesses.yaml id the expectation rests on
    model: str = CHEAPEST  # the model that bills, if anything does
    images: int = 0  # billable images when the answer is the expected one
    streamed: bool | None = None  # whether the answer is an event stream (None: not the point)
    # cancel the first task: "after" it ended (documented: refused), "at-once" while the
    # emulator holds it PENDING
    cancel: Literal["", "after", "at-once"] = ""
    emulator_only: str = ""  # why only the emulator can play it; empty: any target
    fault: Mapping | None = field(default=None)  # an X-Wanform-Fault rule (emulator only)

    def __post_init__(self) -> None:
        if (self.source is None) == (self.guess is None):
            raise ValueError(f"case {self.id}: a documented source or a guess, not both or none")

    @property
    def cited(self) -> str:
        """The case's source as a snapshot records it: the quote, or the guess it rests on."""
        return str(self.source) if self.source else f"spec/guesses.yaml {self.guess}"

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
