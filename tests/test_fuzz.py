"""Property-based fuzzing of `validate` and of the request checks: no input raises, and every
problem is located. Bounded and derandomized here; `bench/fuzz.py` runs the same properties longer.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from wanform.emulator import EmulatorConfig, start
from wanform.runner.recipes.check import validate_paths
from wanform.spec.checks import ALL_PARAMETERS, check_request
from wanform.spec.emulator.wire import CLOCK_ADVANCE, FAULTS, RESET
from wanform.spec.models import ASYNC_GENERATION_PATH, MODELS
from wanform.spec.problems import Path as BodyPath

REPO = Path(__file__).resolve().parents[1]
SEEDS = sorted(
    [*(REPO / "recipes").glob("*.yaml"), *(REPO / "tests" / "cases" / "valid").glob("*.y*ml")]
)
SEED_TEXTS = [(p.parent.name, p.read_text(encoding="utf-8")) for p in SEEDS]
# a whole-file problem has no line to point at
WHOLE_FILE = frozenset({"yaml-empty", "file-too-large", "unreadable", "not-found"})
KEY_LINE = re.compile(r"^(?P<head>\s*(?:- )?[A-Za-z_][A-Za-z0-9_]*:)(?P<rest>.*)$")
RECIPE_KEYS = (
    *("model", "prompt", "negative_prompt", "inputs", "path", "url", "mask", "n", "seed"),
    *("size", "function", "bboxes", "palette", "hex", "ratio", "matrix", "name", "description"),
    *sorted(ALL_PARAMETERS),
)
TAGGED = (
    "!!bool many",
    '!!int ""',
    '!!int "+"',
    '!!int "-"',
    '!!float "_"',
    '!!float ""',
    "!!binary ~~",
    "!!timestamp soon",
    "!!null x",
    "!!str",
    "!!python/name:os.system",
    "!custom 1",
    ".nan",
    "-.inf",
    "~",
    "[]",
    "{}",
    "*undefined",
    "&a [*a]",
    "[[1, 2, 3, 4]]",
    "[{hex: '#000000', ratio: 100.00%}]",
    "<<: {n: 1}",
)
HUGE_NUMBERS = st.integers(300, 320).map(lambda n: "1" + "0" * n) | st.integers(
    -(10**400), 10**400
).map(str)
YAML_VALUES = st.one_of(
    st.sampled_from(TAGGED),
    HUGE_NUMBERS,
    st.integers(-5, 5000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12).map(json.dumps),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8),
    st.sampled_from(["1024*1024", "0*0", "1*99999", "4K", "2K", "http://x/a.png", "a.png"]),
)


@st.composite
def recipe_texts(draw: st.DrawFn) -> tuple[str, str]:
    """A seed recipe (recipes/ or a valid case) with one to three lines changed, added or gone."""
    folder, text = draw(st.sampled_from(SEED_TEXTS))
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, max(0, len(lines) - 1)))
        operation = draw(st.sampled_from(["value", "value", "add", "drop"]))
        match = KEY_LINE.match(lines[index]) if lines else None
        if operation == "value" and match:
            lines[index] = f"{match['head']} {draw(YAML_VALUES)}"
        elif operation == "add":
            key = draw(st.sampled_from(RECIPE_KEYS) | st.text(min_size=1, max_size=6))
            lines.insert(index, f"{key}: {draw(YAML_VALUES)}")
        elif lines:
            del lines[index]
    return folder, "\n".join(lines) + "\n"


def located(findings: list, file_name: str) -> list[str]:
    """The findings that are not placed on a line of the file (whole-file problems aside)."""
    return [
        f"{f.location} {f.problem.code}: {f.problem.message}"
        for f in findings
        if not f.location.file.endswith(file_name)
        or (f.location.line < 1 and f.problem.code not in WHOLE_FILE)
    ]


def check_validate(roots: dict[str, Path], folder: str, text: str) -> None:
    """Validate `text` as a recipe beside its seed's images; it must report, located."""
    root = roots[folder]
    path = root / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    result = validate_paths([str(path)], root=root.parent)
    assert len(result.report.files) == 1
    assert located(result.report.findings, "fuzz.yaml") == []


def fuzz_roots(base: Path, cases: Path) -> dict[str, Path]:
    """Copies of recipes/ and of `cases` (a tests/cases tree with its images drawn) under `base`."""
    shutil.copytree(REPO / "recipes", base / "recipes")
    shutil.copytree(cases, base / "cases", symlinks=True)
    return {"recipes": base / "recipes", "valid": base / "cases" / "valid"}


def _png_uri(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


IMAGE = _png_uri(640, 480)


def base_body(model: str) -> dict:
    """A valid request for `model`, the starting point of a mutated body."""
    spec = MODELS[model]
    if spec.family == "messages":
        content = [{"text": "a red bicycle"}, {"image": IMAGE}]
        return {"model": model, "input": {"messages": [{"role": "user", "content": content}]}}
    if spec.family == "images":
        return {"model": model, "input": {"prompt": "a red bicycle", "images": [IMAGE]}}
    return {
        "model": model,
        "input": {"prompt": "a watercolour", "function": "expand", "base_image_url": IMAGE},
    }


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**400), 10**400),
    st.integers(-3, 10),
    st.floats(allow_nan=False),
    st.text(max_size=10),
    st.sampled_from(["1024*1024", "0*0", "1*1", "99999*1", "2K", "#C2D1E6", "25.00%", "x"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
PARAMETER_VALUES = st.one_of(
    JSON_VALUES,
    st.lists(st.lists(st.lists(st.integers(-5, 5000), max_size=5), max_size=3), max_size=3),
    st.lists(
        st.fixed_dictionaries(
            {"hex": st.sampled_from(["#000000", "#FFF", 3]), "ratio": JSON_SCALARS}
        ),
        max_size=11,
    ),
)


def _containers(value: object, path: BodyPath = ()) -> Iterator[tuple[BodyPath, object]]:
    yield path, value
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        yield from _containers(item, path + (key,))


@st.composite
def request_bodies(draw: st.DrawFn) -> dict:
    """A valid body for some model with parameters set and parts of it replaced or removed."""
    body = base_body(draw(st.sampled_from(sorted(MODELS))))
    parameters = draw(
        st.dictionaries(st.sampled_from(sorted(ALL_PARAMETERS)), PARAMETER_VALUES, max_size=4)
    )
    body["parameters"] = parameters
    for _ in range(draw(st.integers(0, 2))):
        spots = [(p, v) for p, v in _containers(body) if isinstance(v, (dict, list)) and v]
        path, container = draw(st.sampled_from(spots))
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            container[key] = draw(JSON_VALUES)  # type: ignore[index]  # a dict or a list
        else:
            del container[key]  # type: ignore[arg-type]  # a dict or a list
    return body


def walkable(body: object, path: BodyPath) -> bool:
    """Whether every step of `path` but the last exists in `body` (the last may be missing)."""
    for part in path[:-1]:
        try:
            body = body[part]  # type: ignore[index]  # a dict or a list, or the walk fails
        except (KeyError, IndexError, TypeError):
            return False
    return True


def check_body(body: dict) -> None:
    """check_request on `body` raises nothing, and every problem points into the body."""
    for problem in check_request(body):
        assert walkable(body, problem.path), problem


FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def examples(long: int) -> pytest.MarkDecorator:
    """Parametrise `examples`: a fifth of `long` in the default run, `long` in the slow tier."""
    return pytest.mark.parametrize(
        "examples", [long // 5, pytest.param(long, marks=pytest.mark.slow)]
    )


def fuzz(strategy: st.SearchStrategy, check: Callable[[Any], None], examples: int) -> None:
    """`check` holds for `examples` values drawn from `strategy`."""
    settings(FUZZ, max_examples=examples)(given(strategy)(check))()


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory, case_root: Path) -> dict[str, Path]:
    return fuzz_roots(tmp_path_factory.mktemp("fuzz"), case_root)


@examples(600)
def test_validate_reports_every_mutated_recipe_located(
    roots: dict[str, Path], examples: int
) -> None:
    """validate never raises on a mutated recipe, and places every problem on a line of it."""
    fuzz(recipe_texts(), lambda recipe: check_validate(roots, *recipe), examples)


@examples(800)
def test_request_check_locates_every_problem(examples: int) -> None:
    """check_request never raises on a mutated body, and every problem's path is in the body."""
    fuzz(request_bodies(), check_body, examples)


class Emulator:
    """An emulator on a real socket and a session to it, driven from synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.runner, self.base = self.loop.run_until_complete(
            start(EmulatorConfig(speed=0, port=0, throttle=False))
        )
        self.session = self.loop.run_until_complete(self._session())

    @staticmethod
    async def _session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def post(self, body: dict) -> tuple[int, dict]:
        return self.loop.run_until_complete(self._post(body))

    async def _post(self, body: dict) -> tuple[int, dict]:
        model = body.get("model")
        known = isinstance(model, str) and model in MODELS
        path = MODELS[model].async_path if known else ASYNC_GENERATION_PATH
        headers = {"Authorization": "Bearer sk-fuzz", "X-DashScope-Async": "enable"}
        url = self.base + path
        async with self.session.post(url, json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    def call(self, method: str, path: str, query: dict, body: object) -> tuple[int, str]:
        return self.loop.run_until_complete(self._call(method, path, query, body))

    async def _call(self, method: str, path: str, query: dict, body: object) -> tuple[int, str]:
        url = self.base.removesuffix("/api/v1") + path
        headers = {"Authorization": "Bearer sk-fuzz"}
        data = None if body is None else json.dumps(body).encode()
        async with self.session.request(
            method, url, params=query, data=data, headers=headers
        ) as response:
            return response.status, await response.text()

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()


def check_submission(emulator: Emulator, body: dict) -> None:
    """The emulator answers a mutated body with 200 or a 4xx DashScope error, never 500."""
    status, answer = emulator.post(body)
    assert status == 200 or (400 <= status < 500 and answer["code"] and answer["message"]), (
        status,
        answer,
    )


QUERY_TEXT = (
    st.text(max_size=12) | HUGE_NUMBERS | st.sampled_from(["1", "\u00b2", "20250101083000"])
)
LIST_QUERIES = st.dictionaries(
    st.sampled_from(["page_no", "page_size", "start_time", "end_time", "status", "model"]),
    QUERY_TEXT,
    max_size=4,
)
RULES = st.fixed_dictionaries(
    {"action": st.sampled_from(["error", "fail", "partial", "latency", "drop", "cut", "x"])},
    optional={
        key: JSON_SCALARS | st.text(max_size=600)
        for key in ("prompt", "model", "account", "endpoint", "nth", "times", "code", "seconds")
    },
)
OTHER_REQUESTS = st.one_of(
    st.tuples(st.just("GET"), st.just("/api/v1/tasks"), LIST_QUERIES, st.none()),
    st.tuples(st.just("POST"), st.just(FAULTS), st.just({}), RULES | JSON_VALUES),
    st.tuples(
        st.just("POST"),
        st.just(CLOCK_ADVANCE),
        st.just({}),
        st.fixed_dictionaries({"seconds": JSON_SCALARS}),
    ),
    st.tuples(
        st.just("GET"),
        st.just("/__results/x.png"),
        st.fixed_dictionaries({"Expires": QUERY_TEXT, "Signature": st.text(max_size=8)}),
        st.none(),
    ),
)


def check_other_request(emulator: Emulator, call: tuple[str, str, dict, object]) -> None:
    """The task list, fault and clock admin and result routes answer any input below 500; then
    the emulator is reset, so a fault rule the example added (which may answer 500 on purpose)
    does not outlive it."""
    try:
        status, text = emulator.call(*call)
        assert status < 500, (status, text)
    finally:
        emulator.call("POST", RESET, {}, None)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    running = Emulator()
    yield running
    running.close()


@examples(400)
def test_emulator_answers_every_mutated_body_without_500(emulator: Emulator, examples: int) -> None:
    """The submission path (envelope, checks, faults) turns any body into 200 or a 4xx."""
    fuzz(request_bodies(), lambda body: check_submission(emulator, body), examples)


@examples(300)
def test_emulator_answers_other_routes_without_500(emulator: Emulator, examples: int) -> None:
    """Query strings, fault rules and clock jumps of any shape are answered below 500."""
    fuzz(OTHER_REQUESTS, lambda call: check_other_request(emulator, call), examples)
