"""Inputs that are other jobs' outputs: `from: JOB` (with `image: K`), resolved among every job of
the project, and what validation can say of them before anything runs.

JOB is a job's name as wanform prints it (`name`, or `name[key=value,...]` for a matrix
combination), or `RECIPE_PATH::JOB` as the lock writes it, which a name two recipes share needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from wanform.runner.recipes.build import BuiltRequest
from wanform.runner.recipes.load import Job
from wanform.spec.checks import select_mode
from wanform.spec.imageprobe import ImageInfo
from wanform.spec.problems import Path, Problem
from wanform.spec.schemagen import MATRIX_REFERENCE
from wanform.spec.sizes import output_size

SEPARATOR = "::"


def key_of(job: Job) -> str:
    """The job's key, as the lock writes it: recipe path from the project root, and name."""
    relative = job.recipe.relative.replace(os.sep, "/")
    return f"{relative}{SEPARATOR}{job.name}"


@dataclass(frozen=True)
class Reference:
    """One `from:` as a job declares it: which input, what it names, where it is written."""

    input: int
    text: str
    image: int
    where: Path  # the recipe node to point at


@dataclass(frozen=True)
class Link:
    """A resolved reference: the request's image at `body_path` is image `image` of `upstream`."""

    body_path: Path
    upstream: str
    image: int
    where: Path


def references(job: Job) -> Iterator[Reference]:
    """The job's `from:` inputs, each pointing at its `from:` (or at the matrix entry it took)."""
    raw = job.recipe.data.get("inputs") or []
    for i, entry in enumerate(job.values.get("inputs") or []):
        if not isinstance(entry, dict) or "from" not in entry:
            continue
        from_matrix = i < len(raw) and raw[i].get("from") == MATRIX_REFERENCE
        where = job.origin("from") if from_matrix else ("inputs", i, "from")
        yield Reference(i, str(entry["from"]), int(entry.get("image", 1)), where)


def matrix_problems(data: dict) -> list[Problem]:
    """`from: matrix` inputs and the references `matrix.from` lists go together."""
    listed = "from" in (data.get("matrix") or {})
    takers = [
        i
        for i, entry in enumerate(data.get("inputs") or [])
        if isinstance(entry, dict) and entry.get("from") == MATRIX_REFERENCE
    ]
    if listed and not takers:
        return [
            Problem(
                "matrix-from-unused",
                "matrix lists references under `from`, but no input is written `from: matrix` "
                "to take them",
                ("matrix", "from"),
            )
        ]
    if takers and not listed:
        return [
            Problem(
                "matrix-from-missing",
                "`from: matrix` takes each reference listed under matrix.from, and there is none",
                ("inputs", i, "from"),
            )
            for i in takers
        ]
    return []


class Index:
    """Every job of the project by key and by short name."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = set(keys)
        self.names: dict[str, list[str]] = {}
        for key in sorted(keys):
            self.names.setdefault(key.partition(SEPARATOR)[2], []).append(key)

    def resolve(self, text: str) -> str | Problem:
        """The key `text` names, or why it names none."""
        if SEPARATOR in text:
            if text in self.keys:
                return text
            return Problem("unknown-job", f"no job {text} in the project's recipes")
        found = self.names.get(text, [])
        if len(found) == 1:
            return found[0]
        if not found:
            return Problem(
                "unknown-job",
                f"no job named {text} in the project's recipes; a matrix job is named "
                "name[key=value,...] as `wanform plan` prints it",
            )
        return Problem(
            "ambiguous-job",
            f"{len(found)} recipes declare a job named {text}: write one of {', '.join(found)}",
        )


def cycle_problem(cycle: list[str]) -> Problem:
    shown = " -> ".join([*cycle, cycle[0]])
    return Problem("reference-cycle", f"these jobs take each other's outputs in a cycle: {shown}")


def declared_size(request: BuiltRequest, infos: Mapping[Path, ImageInfo]) -> tuple[int, int] | None:
    """The size of each image `request` asks for, when its parameters and inputs tell it."""
    params = request.body.get("parameters") or {}
    inputs = [ref for ref in request.images if ref.role == "input"]
    last = infos.get(inputs[-1].body_path) if inputs else None
    if inputs and last is None:
        return None  # a remote input, or one not readable: its size is unknown
    mode = select_mode(request.spec, params, len(inputs))
    function = (request.body.get("input") or {}).get("function")
    return output_size(
        request.spec, mode, params, (last.width, last.height) if last else None, function
    )


def declared_image(request: BuiltRequest, infos: Mapping[Path, ImageInfo]) -> ImageInfo | None:
    """An upstream's output as a downstream check sees it: a PNG of its declared size."""
    size = declared_size(request, infos)
    return ImageInfo("PNG", size[0], size[1], 0) if size else None


def most_images(request: BuiltRequest) -> int:
    """The most images a request can make: `n`, or `max_images` for interleaved output."""
    params = request.body.get("parameters") or {}
    inputs = sum(ref.role == "input" for ref in request.images)
    return select_mode(request.spec, params, inputs).images_at_most(params)


def index_problem(link: Link, upstream: BuiltRequest) -> Problem | None:
    """An image index beyond what the upstream asks for."""
    most = most_images(upstream)
    if link.image > most:
        return Problem(
            "reference-image",
            f"image {link.image} of {link.upstream}: that job asks for at most {most} "
            f"image{'s' * (most != 1)}",
            link.where,
        )
    return None
