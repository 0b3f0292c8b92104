"""From a job to the HTTP request its model expects, remembering the recipe node of each part."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from wanform.runner.recipes.load import Job
from wanform.spec.models import (
    ASYNC_HEADER,
    HEADER_ON,
    MODELS,
    OSS_RESOLVE_HEADER,
    OSS_SCHEME,
    ModelSpec,
)
from wanform.spec.problems import Path, Problem

# Recipe keys that are not API parameters (or become API parameters under another name).
RECIPE_ONLY = frozenset(
    {
        "name",
        "description",
        "model",
        "prompt",
        "negative_prompt",
        "inputs",
        "mask",
        "function",
        "palette",
    }
)
DEFAULT_N = 1
SOURCES = ("path", "url", "data", "from")


@dataclass(frozen=True)
class ImageRef:
    """An image the request carries, and its recipe entry (`path:`, `url:`, `data:` or `from:`,
    another job's output)."""

    body_path: Path
    recipe_path: Path
    kind: str  # "path", "url", "data" or "from"
    value: str  # for "from": the job reference as written
    role: str = "input"  # or "mask"
    image: int = 1  # for "from": which of that job's images, from 1


Sources = tuple[tuple[Path, Path], ...]  # body path -> the recipe path it came from


@dataclass
class BuiltRequest:
    """The request body, its endpoint, and a map from body paths back to recipe paths."""

    job: Job
    spec: ModelSpec
    body: dict
    path: str
    asynchronous: bool
    images: list[ImageRef] = field(default_factory=list)
    sources: Sources = ()
    problems: list[Problem] = field(default_factory=list)

    def recipe_path(self, body_path: Path) -> Path:
        """The recipe node a body path came from: the longest mapped prefix, plus the rest of
        the path."""
        best: tuple[Path, Path] | None = None
        for prefix, target in self.sources:
            if body_path[: len(prefix)] == prefix and (best is None or len(prefix) > len(best[0])):
                best = (prefix, target)
        if best is None:
            return ("model",)
        return best[1] + tuple(body_path[len(best[0]) :])

    def headers(self) -> dict[str, str]:
        """Headers beyond auth and content type that this request needs."""
        out = {ASYNC_HEADER: HEADER_ON} if self.asynchronous else {}
        if any(str(v).startswith(OSS_SCHEME) for v in _image_values(self.body)):
            out[OSS_RESOLVE_HEADER] = HEADER_ON
        return out


def _image_values(body: dict) -> list[str]:
    inp = body.get("input", {})
    values = [c.get("image", "") for m in inp.get("messages", []) for c in m.get("content", [])]
    return (
        values
        + list(inp.get("images", []))
        + [inp.get(k, "") for k in ("base_image_url", "mask_image_url")]
    )


def palette_ratio(value: object) -> str:
    """A palette ratio as the API writes it: 25 -> "25.00%"; other forms pass through for the
    checks to judge."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    try:
        number = Decimal(str(value))
        exact = number == number.quantize(Decimal("0.01"))
    except InvalidOperation:  # .inf and .nan: the checks refuse the text form
        return str(value)
    return f"{number:.2f}%" if exact else f"{number}%"


Encoder = Callable[[ImageRef], str]


class _Builder:
    def __init__(self, job: Job, encode: Encoder, models) -> None:
        self.job, self.encode = job, encode
        self.spec = models[job.values["model"]]
        self.values = job.values
        self.sources: list[tuple[Path, Path]] = []
        self.req = BuiltRequest(
            job, self.spec, {"model": self.spec.name}, self.spec.async_path, True
        )

    def map(self, body_path: Path, recipe_path: Path) -> None:
        self.sources.append((body_path, recipe_path))

    def image(self, body_path: Path, recipe_path: Path, entry: dict, role: str = "input") -> str:
        kind = next((k for k in SOURCES if k in entry), None)
        if kind is None or sum(k in entry for k in SOURCES) != 1:
            self.req.problems.append(
                Problem(
                    "input-source", "give exactly one of path:, url:, data: or from:", recipe_path
                )
            )
            kind = kind or "url"
        image = entry.get("image", 1) if kind == "from" else 1
        ref = ImageRef(body_path, recipe_path, kind, str(entry.get(kind, "")), role, image)
        self.req.images.append(ref)
        self.map(body_path, recipe_path)
        return self.encode(ref)

    def parameters(self) -> dict:
        params, origin = {}, self.job.origin
        for key, value in self.values.items():
            if key not in RECIPE_ONLY and key != "matrix":
                params[key] = value
                self.map(("parameters", key), origin(key))
        if "n" not in params:
            params["n"] = DEFAULT_N
            self.map(("parameters", "n"), ("model",))
        inputs = self.values.get("inputs") or []
        if any("bboxes" in i for i in inputs):
            params["bbox_list"] = [i.get("bboxes", []) for i in inputs]
            self.map(("parameters", "bbox_list"), ("inputs",))
            for i in range(len(inputs)):
                self.map(("parameters", "bbox_list", i), ("inputs", i, "bboxes"))
        if "palette" in self.values:
            params["color_palette"] = [
                {"hex": c["hex"], "ratio": palette_ratio(c["ratio"])}
                for c in self.values["palette"]
            ]
            self.map(("parameters", "color_palette"), ("palette",))
        if self.spec.family == "messages" and "negative_prompt" in self.values:
            params["negative_prompt"] = self.values["negative_prompt"]
            self.map(("parameters", "negative_prompt"), self.job.origin("negative_prompt"))
        return dict(sorted(params.items()))

    def messages_input(self) -> dict:
        content = [
            {
                "image": self.image(
                    ("input", "messages", 0, "content", i, "image"), ("inputs", i), entry
                )
            }
            for i, entry in enumerate(self.values.get("inputs") or [])
        ]
        text_path = ("input", "messages", 0, "content", len(content))
        self.map(text_path, self.job.origin("prompt"))
        self.map(("input", "messages", 0, "content"), ("inputs",))
        return {
            "messages": [{"role": "user", "content": content + [{"text": self.values["prompt"]}]}]
        }

    def images_input(self) -> dict:
        out = {
            "prompt": self.values["prompt"],
            "images": [
                self.image(("input", "images", i), ("inputs", i), e)
                for i, e in enumerate(self.values.get("inputs") or [])
            ],
        }
        self.map(("input", "images"), ("inputs",))
        if "negative_prompt" in self.values:
            out["negative_prompt"] = self.values["negative_prompt"]
            self.map(("input", "negative_prompt"), self.job.origin("negative_prompt"))
        return out

    def imageedit_input(self) -> dict:
        inputs = self.values.get("inputs") or []
        if len(inputs) != 1:
            self.req.problems.append(
                Problem(
                    "image-count",
                    f"{self.spec.name} edits exactly one image; give one entry under inputs, "
                    f"got {len(inputs)}",
                    ("inputs",) if "inputs" in self.values else ("model",),
                )
            )
        out = {"function": self.values.get("function"), "prompt": self.values["prompt"]}
        self.map(("input", "function"), self.job.origin("function"))
        if inputs:
            out["base_image_url"] = self.image(
                ("input", "base_image_url"), ("inputs", 0), inputs[0]
            )
        if "mask" in self.values:
            out["mask_image_url"] = self.image(
                ("input", "mask_image_url"), ("mask",), self.values["mask"], "mask"
            )
        if out["function"] is None:
            del out["function"]
        return out

    def build(self, synchronous: bool) -> BuiltRequest:
        self.map(("input", "prompt"), self.job.origin("prompt"))
        self.map(("input",), ("model",))
        family = self.spec.family
        inp = {
            "messages": self.messages_input,
            "images": self.images_input,
            "imageedit": self.imageedit_input,
        }[family]()
        self.req.body = {"model": self.spec.name, "input": inp, "parameters": self.parameters()}
        if synchronous and self.spec.sync_path:
            self.req.path, self.req.asynchronous = self.spec.sync_path, False
        self.req.sources = _shared(tuple(self.sources))
        return self.req


_SHARED: dict[Sources, Sources] = {}
SHARED_MAX = 4096


def _shared(sources: Sources) -> Sources:
    """One object for each map of body paths to recipe paths: jobs of the same shape (thousands
    in a large run) hold the same one instead of a copy each."""
    known = _SHARED.get(sources)
    if known is not None:
        return known
    if len(_SHARED) < SHARED_MAX:
        _SHARED[sources] = sources
    return sources


def build_request(
    job: Job, encode: Encoder, *, synchronous: bool = False, models=MODELS
) -> BuiltRequest:
    """The request for `job`, its images turned into references by `encode` (a data URI, an
    oss:// URL or a placeholder)."""
    return _Builder(job, encode, models).build(synchronous)
