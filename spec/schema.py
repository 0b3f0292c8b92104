"""Validation against the JSON Schemas, with errors turned into Problems people can read."""

from __future__ import annotations

import difflib
import functools
import importlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import fastjsonschema

from wanform.spec.errors import (
    EMPTY_INPUT,
    EMPTY_MODEL,
    MIXED_MODAL,
    MODEL_NOT_EXIST,
    NOT_JSON,
    URL_ERROR,
)
from wanform.spec.models import ModelSpec
from wanform.spec.problems import Path, Problem, json_path
from wanform.spec.schemagen import SCHEMA_DIR, validator_module

if TYPE_CHECKING:
    import jsonschema

KEY_CODES = frozenset({"unknown-key", "param-not-accepted", "content-mixed"})  # about a key
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
    "anyOf": "wrong-shape",
    "oneOf": "wrong-shape",
}
JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _is_integer(_checker: object, value: object) -> bool:
    # JSON Schema counts 5.0 as an integer; a recipe or request saying `n: 5.0` is a mistake worth
    # naming
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(_checker: object, value: object) -> bool:
    # .nan and .inf pass every minimum/maximum comparison; no parameter of these models takes them.
    # An int is always finite (math.isfinite overflows on one past 1e308).
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


_DOLLAR = re.compile(r"(?<!\\)\$")


@functools.cache
def _ecma(pattern: str) -> re.Pattern[str]:
    # Python's `$` also matches before a last line break; ECMA-262's, the schemas' dialect, only at
    # the end. fastjsonschema reads it as `\Z`, and so does this.
    return re.compile(_DOLLAR.sub(r"\\Z", pattern))


def matches(pattern: str, text: str) -> bool:
    """Whether `text` matches the schema `pattern` as JSON Schema reads it (`$`: the end)."""
    return _ecma(pattern).search(text) is not None


def _pattern(
    validator: jsonschema.protocols.Validator, pattern: str, instance: object, _schema: dict
) -> Iterator[jsonschema.ValidationError]:
    import jsonschema

    if isinstance(instance, str) and not matches(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _validator_class() -> type[jsonschema.protocols.Validator]:
    import jsonschema  # ~40 ms to import: only a document the compiled check refuses needs it

    draft7 = jsonschema.Draft7Validator
    return jsonschema.validators.extend(
        draft7,
        validators={"pattern": _pattern},
        type_checker=draft7.TYPE_CHECKER.redefine_many(
            {"integer": _is_integer, "number": _is_number}
        ),
    )


def Validator(schema: dict) -> jsonschema.protocols.Validator:
    """jsonschema's Draft 7 validator for `schema`, with the integer and number rules above."""
    return _validator_class()(schema)


def load_schema(name: str) -> dict:
    """A schema file from spec/schemas by name, e.g. `response-task`."""
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


def _types_differ(value: object) -> bool:
    """Whether `value` holds a float the two validators judge differently: 5.0 (an integer to
    fastjsonschema), NaN or inf. Walked with a stack: it runs on every request the emulator
    checks, and generators nested per level cost more than the check itself."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if item.is_integer() or not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class SchemaCheck:
    """A generated schema by name (`recipe`, `project`, `request-MODEL`), checked in two steps: its
    generated validator in spec/validators/ says whether a document is valid, and jsonschema says
    why not. The verdict is always jsonschema's; the generated check only spares valid documents."""

    def __init__(self, name: str) -> None:
        self._name = name
        # wanform's own files get a "did you mean"; request bodies keep the service's wording
        self._suggest = name in ("recipe", "project")
        module = importlib.import_module(f"wanform.spec.validators.{validator_module(name)}")
        self._accepts: Callable[[object], object] = module.validate

    @functools.cached_property
    def _explain(self) -> jsonschema.protocols.Validator:
        return Validator(load_schema(self._name))

    def problems(self, document: object) -> list[Problem]:
        if not _types_differ(document):
            try:
                self._accepts(document)
                return []
            except fastjsonschema.JsonSchemaException:
                pass
        return problems_from(self._explain.iter_errors(document), document, self._suggest)


@functools.cache
def _request_check(model: str) -> SchemaCheck:
    return SchemaCheck(f"request-{model}")


def _describe(value: object) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return JSON_TYPES.get(type(value), type(value).__name__)


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """`did you mean 'X'?` for the choice closest to a misspelt `word`, or nothing."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def _flow(value: object) -> str:
    """A value as YAML flow style writes it: `{path: images/mask.png}`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return str(value)


def _example(error: jsonschema.ValidationError, where: str) -> str:
    """How the schema's example writes the value that has the wrong type, or nothing."""
    examples = error.schema.get("examples") if isinstance(error.schema, dict) else None
    if not examples:
        return ""
    key = error.absolute_path[-1] if error.absolute_path else None
    shown = f"{key}: {_flow(examples[0])}" if isinstance(key, str) else f"- {_flow(examples[0])}"
    return f"; write it as `{shown}`"


def _message(error: jsonschema.ValidationError, where: str, suggest: bool = False) -> str:
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        missing = [k for k in expected if k not in error.instance]
        return f"Field required: {'.'.join(p for p in (where, missing[0]) if p != '(root)')}"
    if kind == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        article = "an" if wanted[0] in "aeiou" else "a"
        hint = _example(error, where) if suggest else ""
        return f"{where} must be {article} {wanted}, not {_describe(error.instance)}{hint}"
    if kind in ("enum", "const"):
        allowed = expected if kind == "enum" else [expected]
        hint = did_you_mean(error.instance, allowed) if suggest else ""
        listed = ", ".join(map(str, allowed))
        return f"{where} is {error.instance!r}; {hint + ' ' if hint else ''}allowed: {listed}"
    if kind in ("minimum", "maximum"):
        side = "below the minimum" if kind == "minimum" else "above the maximum"
        return (
            f"The type or value of {where} is out of definition: "
            f"{error.instance} is {side} {expected}"
        )
    return f"{where}: {error.message}"


def _unknown_keys(error: jsonschema.ValidationError) -> list:
    """The keys an `additionalProperties: false` error is about, in document order."""
    known = error.schema.get("properties", {})
    return [key for key in error.instance if key not in known]


def _refused_key(error: jsonschema.ValidationError, document: object) -> Problem:
    """A key a model's `propertyNames` rule refuses."""
    path = tuple(error.absolute_path)
    model = document.get("model") if isinstance(document, dict) else None
    where = f" in {json_path(path)}" if path else ""
    message = (
        f"{model} does not take `{error.instance}`{where}"
        if model
        else f"`{error.instance}` cannot be used{where}"
    )
    return Problem("param-not-accepted", message, path + (error.instance,))


def _problems(
    error: jsonschema.ValidationError, document: object, suggest: bool
) -> Iterator[Problem]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        for key in _unknown_keys(error):
            if key == "text" and path[:1] == ("inputs",) and len(path) == 2:
                # a recipe's way to build an item holding an image and text: refused as the
                # service refuses such an item
                yield Problem(
                    "content-mixed",
                    f"{MIXED_MODAL} Input {path[1] + 1} gives an image and `text`; "
                    "write the text in `prompt`",
                    path + (key,),
                )
                continue
            hint = did_you_mean(key, known) if suggest else ""
            message = f"unknown key {key!r} in {json_path(path)}{'; ' + hint if hint else ''}"
            yield Problem("unknown-key", message, path + (key,))
    elif "propertyNames" in error.schema_path:
        yield _refused_key(error, document)
    else:
        message = _message(error, json_path(path), suggest)
        yield Problem(CODES.get(str(error.validator), "schema"), message, path)


def problems_from(
    errors: Iterable[jsonschema.ValidationError], document: object = None, suggest: bool = False
) -> list[Problem]:
    """One Problem per schema error and unknown key, each key reported once, in path order;
    `suggest` adds a "did you mean" to misspelt keys and values, an example to wrong types."""
    found: dict[tuple[Path, str], Problem] = {}
    for error in errors:
        for problem in _problems(error, document, suggest):
            is_key = problem.code in KEY_CODES
            slot = (problem.path, "key" if is_key else problem.code)
            # a key unknown to the recipe format is also refused by its model's key list: say
            # "unknown" (or why it cannot be) once
            if slot not in found or problem.code != "param-not-accepted":
                found[slot] = problem
    return sorted(found.values(), key=lambda p: [str(part) for part in p.path])


def envelope_problem(
    body: object, models: Mapping[str, ModelSpec], path: str | None = None
) -> Problem | None:
    """What the service checks before a body's shape: an object naming a known model, served at
    `path` (when given), with an input. The answers are the documented ones (spec/errors.py)."""
    if not isinstance(body, dict):
        return Problem("not-an-object", NOT_JSON, (), api_code="BadRequest.IllegalInput")
    model = body.get("model")
    if model is None or model == "":
        return Problem("missing", EMPTY_MODEL, (), api_code="BadRequest.EmptyModel")
    if not isinstance(model, str) or model not in models:
        return Problem("unknown-model", MODEL_NOT_EXIST, ("model",))
    if path is not None and path not in (models[model].sync_path, models[model].async_path):
        return Problem("wrong-endpoint", URL_ERROR, ("model",))
    if "input" not in body:
        return Problem("missing", EMPTY_INPUT, (), api_code="BadRequest.EmptyInput")
    return None


def shape_problems(spec: ModelSpec, body: object) -> list[Problem]:
    """The body against its model's request schema (for a body `envelope_problem` passed). Every
    variant of the table has the default table's request schemas, so the generated ones serve."""
    return _request_check(spec.name).problems(body)
