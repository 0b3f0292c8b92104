"""SchemaCheck's generated fast path never changes a verdict: it reports what jsonschema alone
reports.

Every recipe of the case corpus and of recipes/ is checked both ways against the recipe schema, and
every request body they build (plus bodies mutated where the two validators' type rules part)
against its model's.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest

from wanform.runner.recipes.build import build_request
from wanform.runner.recipes.check import placeholder
from wanform.runner.recipes.load import expand, load
from wanform.spec.models import MODELS
from wanform.spec.schema import SchemaCheck, Validator, problems_from
from wanform.spec.schemagen import recipe_schema, request_schema
from wanform.spec.yamlloc import YamlError, load_file

REPO = Path(__file__).resolve().parents[2]
RECIPE_FILES = sorted((REPO / "tests" / "cases").rglob("*.yaml")) + sorted(
    (REPO / "recipes").glob("*.yaml")
)
RECIPE_SCHEMA = recipe_schema()
RECIPE_CHECK = SchemaCheck("recipe")
REQUEST_CHECKS = {
    name: (SchemaCheck(f"request-{name}"), Validator(request_schema(spec)))
    for name, spec in MODELS.items()
}
# values where fastjsonschema's types are looser than the project's: 5.0 counts as an integer, NaN
# as a number
LENIENT = (1.0, 4.0, math.nan, math.inf, -math.inf)


def recipe_documents() -> list[tuple[str, object]]:
    """Every corpus file the YAML loader accepts (the others never reach a schema)."""
    documents = []
    for path in RECIPE_FILES:
        try:
            documents.append((path.name, load_file(str(path)).data))
        except YamlError:
            continue
    return documents


def request_bodies() -> list[tuple[str, dict]]:
    bodies = []
    for path in RECIPE_FILES:
        recipe, problems, _ = load(path, REPO)
        if recipe is None or problems:
            continue
        for job in expand(recipe):
            request = build_request(job, placeholder)
            if not request.problems and request.body.get("model") in MODELS:
                bodies.append((job.name, request.body))
    return bodies


BODIES = request_bodies()


def mutations(body: dict) -> list[dict]:
    """The body with each numeric or boolean parameter replaced in turn by each lenient value."""
    found = []
    for key, value in body.get("parameters", {}).items():
        if isinstance(value, (int, float)):
            for lenient in LENIENT:
                changed = copy.deepcopy(body)
                changed["parameters"][key] = lenient
                found.append(changed)
    return found


DOCUMENTS = recipe_documents()


def test_corpus_is_large_enough_to_mean_something():
    assert len(DOCUMENTS) > 200 and len(BODIES) > 50


@pytest.mark.parametrize(("name", "data"), DOCUMENTS, ids=[name for name, _ in DOCUMENTS])
def test_recipe_verdict_is_jsonschemas(name: str, data: object):
    assert RECIPE_CHECK.problems(data) == problems_from(
        Validator(RECIPE_SCHEMA).iter_errors(data), data, suggest=True
    )


@pytest.mark.parametrize(("name", "body"), BODIES, ids=[name for name, _ in BODIES])
def test_request_verdict_is_jsonschemas(name: str, body: dict):
    check, validator = REQUEST_CHECKS[body["model"]]
    for document in [body] + mutations(body):
        assert check.problems(document) == problems_from(validator.iter_errors(document), document)


@pytest.mark.parametrize("value", LENIENT)
def test_integer_and_finite_rules_survive_the_fast_path(value: float):
    """`n: 4.0`, `n: .nan`, `n:
    .inf` are errors even though fastjsonschema alone would let some through."""
    check, _ = REQUEST_CHECKS["wan2.6-image"]
    body = copy.deepcopy(next(body for _, body in BODIES if body["model"] == "wan2.6-image"))
    body["parameters"]["n"] = value
    assert [p.code for p in check.problems(body)] == ["wrong-type"]


@pytest.mark.parametrize("text", ["fox\n", "fox\n\n", "fox\nbar"])
def test_dollar_is_the_end_of_the_string(text: str):
    """A pattern's `$` is the end of the value, as ECMA-262 reads it: a line break after what it
    allows is refused by jsonschema as by the generated check."""
    recipe = {"model": "wan2.6-image", "name": text}
    assert [p.code for p in RECIPE_CHECK.problems(recipe)] == ["bad-format"]
    assert RECIPE_CHECK.problems({"model": "wan2.6-image", "name": "fox"}) == []
