"""The generated schemas in spec/schemas and their validators in spec/validators:
committed files match the generator, and the schemas are plain draft-07."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import fastjsonschema
import pytest
from jsonschema import Draft7Validator

from wanform.spec.models import GUESSES, MODELS, table
from wanform.spec.schemagen import (
    DRAFT,
    SCHEMA_DIR,
    VALIDATOR_DIR,
    generated,
    request_schema,
    schema_text,
    validators,
)

GENERATED = generated()
VALIDATORS = validators()
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# Keywords of drafts after 07: an editor that speaks draft-07 would silently ignore them.
LATER_KEYWORDS = frozenset(
    {
        "$defs",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$recursiveAnchor",
        "$vocabulary",
        "dependentRequired",
        "dependentSchemas",
        "prefixItems",
        "unevaluatedItems",
        "unevaluatedProperties",
        "minContains",
        "maxContains",
        "contentSchema",
    }
)


def _keys(node: object) -> Iterator[str]:
    """Every mapping key anywhere in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def test_generator_covers_every_model() -> None:
    """The generator renders the recipe schema and one request schema per model of the table."""
    assert set(GENERATED) == {"recipe.schema.json", "project.schema.json"} | {
        f"request-{name}.schema.json" for name in MODELS
    }


def test_no_stale_schema_files() -> None:
    """Every committed request schema is one the generator still renders
    (no file left behind by a renamed model)."""
    committed = {p.name for p in SCHEMA_DIR.glob("request-*.schema.json")} | {
        "recipe.schema.json",
        "project.schema.json",
    }
    assert committed == set(GENERATED)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_committed_file_matches_generator(name: str) -> None:
    """The committed file is byte for byte what `python -m wanform.spec.schemagen` writes;
    rerun it after changing spec/models.py."""
    assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == schema_text(GENERATED[name])


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_schema_is_valid_draft07(name: str) -> None:
    """The committed schema declares draft-07,
    passes the draft-07 meta-schema, and uses no later keyword."""
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT == "http://json-schema.org/draft-07/schema#"
    assert schema["$id"].endswith("/" + name)
    assert LATER_KEYWORDS.isdisjoint(_keys(schema))


def test_no_stale_validator_modules() -> None:
    """spec/validators holds exactly the modules the generator writes, one per schema."""
    assert {p.name for p in VALIDATOR_DIR.glob("*.py")} == set(VALIDATORS)
    assert len(VALIDATORS) == len(GENERATED) + 1  # and __init__.py


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_committed_validator_matches_generator(name: str) -> None:
    """The committed module is byte for byte what `python -m wanform.spec.schemagen` writes with
    the pinned fastjsonschema; rerun it after changing spec/models.py or the pin."""
    assert (VALIDATOR_DIR / name).read_text(encoding="utf-8") == VALIDATORS[name]


def test_fastjsonschema_is_pinned_at_the_generating_version() -> None:
    """pyproject.toml pins the fastjsonschema whose generated code is committed: another version
    writes other code, so the drift check above would fail on it."""
    dependencies = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    assert f"fastjsonschema=={fastjsonschema.VERSION}" in dependencies


@pytest.mark.parametrize("variant", [(k, v) for k, g in GUESSES.items() for v in g.values])
def test_variants_leave_request_schemas_as_generated(variant: tuple[str, str]) -> None:
    """A table with any variant has the default table's request schemas, so the committed
    validators check its bodies too."""
    for name, spec in table(dict([variant])).items():
        assert request_schema(spec) == GENERATED[f"request-{name}.schema.json"]
