"""Validation against the JSON Schemas, with errors turned into Problems people can read."""

from __future__ import annotations

import functools
import json
from typing import Iterable, Mapping

import jsonschema
from jsonschema import Draft7Validator

from spec.models import ModelSpec
from spec.problems import Problem, json_path
from spec.schemagen import SCHEMA_DIR, request_schema

CODES = {
    "required": "missing",
    "type": "wrong-type",
    "enum": "not-allowed",
    "const": "not-allowed",
    "minimum": "out-of-range",
    "maximum": "out-of-range",
    "minItems": "wrong-count",
    "maxItems": "wrong-count",
    "minProperties": "wrong-count",
    "pattern": "bad-format",
    "additionalProperties": "unknown-key",
    "anyOf": "wrong-shape",
    "oneOf": "wrong-shape",
}
JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
              float: "a number", type(None): "null"}


def load(name: str) -> dict:
    """A schema file from spec/schemas by name, e.g. `response-task`."""
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def _validator_for(spec: ModelSpec) -> Draft7Validator:
    return Draft7Validator(request_schema(spec))


def _describe(value: object) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


def _container(document: object, path: tuple) -> object:
    for part in path:
        document = document[part]  # type: ignore[index]
    return document


def _key_message(error: jsonschema.ValidationError, document: object) -> str:
    """A key a `propertyNames` rule refuses: a parameter the recipe's model does not take."""
    container = _container(document, tuple(error.absolute_path))
    if isinstance(container, dict) and "model" in container and not error.absolute_path:
        return f"{container['model']} does not take `{error.instance}`"
    return f"`{error.instance}` cannot be used in {json_path(tuple(error.absolute_path))}"


def _message(error: jsonschema.ValidationError, where: str) -> str:
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        missing = [k for k in expected if k not in error.instance]
        return f"Field required: {'.'.join(p for p in (where, missing[0]) if p != '(root)')}"
    if kind == "type":
        return f"{where} must be {' or '.join(expected) if isinstance(expected, list) else expected}, not {_describe(error.instance)}"
    if kind in ("enum", "const"):
        allowed = expected if kind == "enum" else [expected]
        return f"{where} is {error.instance!r}; allowed: {', '.join(map(str, allowed))}"
    if kind in ("minimum", "maximum"):
        return f"The type or value of {where} is out of definition: {error.instance} is {'below' if kind == 'minimum' else 'above'} {expected}"
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where} has an unknown key {extra[0]!r}" if extra else f"{where}: {error.message}"
    return f"{where}: {error.message}"


def _key_path(error: jsonschema.ValidationError) -> tuple:
    """Point unknown and not-accepted keys at the key itself, so a recipe error lands on its line."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return path + (extra[0],) if extra else path
    return path


def problems_from(errors: Iterable[jsonschema.ValidationError], document: object = None) -> list[Problem]:
    """One Problem per schema error, in document order; `document` names the model for refused keys."""
    out = []
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), str(e.validator))):
        path = tuple(error.absolute_path)
        if "propertyNames" in error.schema_path:
            out.append(Problem("param-not-accepted", _key_message(error, document), path + (error.instance,)))
        else:
            out.append(Problem(CODES.get(str(error.validator), "schema"), _message(error, json_path(path)), _key_path(error)))
    return out


def schema_problems(body: object, models: Mapping[str, ModelSpec]) -> list[Problem]:
    """Structure of a request body: an object with a known model, an input, and its model's shape."""
    if not isinstance(body, dict):
        return [Problem("not-an-object", "The input parameter requires json format.", (), api_code="BadRequest.IllegalInput")]
    if "model" not in body:
        return [Problem("missing", 'Required parameter "model" missing from request.', (), api_code="BadRequest.EmptyModel")]
    if body["model"] not in models:
        return [Problem("unknown-model", "Model not exist.", ("model",))]
    if "input" not in body:
        return [Problem("missing", "Required input parameter missing from request.", (), api_code="BadRequest.EmptyInput")]
    return problems_from(_validator_for(models[body["model"]]).iter_errors(body))
