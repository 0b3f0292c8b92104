"""The emulator's fault-rule format, checked against spec/schemas/faults.schema.json.

The schema says what a scenario file, an admin-API body and an `X-Wanform-Fault` header may
hold; this module turns its errors into one sentence each, with the path of the offending
value, and adds the two checks a schema cannot make: an error code outside the catalogue
(spec/errors.py) needs its status and message, and `prompt` must compile as a regex.

Prompt patterns are compiled and matched with the `regex` package, not `re`: it can stop a
search after a time limit (`PROMPT_MATCH_SECONDS`), so a backtracking pattern such as `(a|aa)+$`
cannot freeze the emulator; its default (V0) syntax is `re`'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

import jsonschema
import regex

from wanform.spec.errors import CATALOGUE
from wanform.spec.problems import Path, Problem
from wanform.spec.schema import Validator, load_schema

SCHEMA = load_schema("faults")
_DEFINITIONS = SCHEMA["definitions"]
RULE_PROPERTIES: Mapping[str, dict] = _DEFINITIONS["rule"]["properties"]
_GROUPS = ("submit", "any")  # names that stand for several endpoints
# the endpoints a rule can name, as the schema lists them: the submission routes, then the rest
SUBMIT_ENDPOINTS = tuple(e for e in _DEFINITIONS["submitEndpoint"]["enum"] if e not in _GROUPS)
ENDPOINTS = tuple(e for e in _DEFINITIONS["endpoint"]["enum"] if e not in _GROUPS)
# the code an error-like rule answers with when it names none
DEFAULT_CODES: Mapping[str, str] = MappingProxyType(
    {"error": "InternalError", "fail": "InternalError", "partial": "InternalError.Timeout"}
)
CODE = "fault-rule"
PROMPT_PATTERN_MAX = 500  # characters; a rule picks prompts by a word or two, not a grammar
PROMPT_MATCH_SECONDS = 0.05  # per search: a timed-out search counts as no match

_SCENARIO = Validator(SCHEMA)
_RULE = Validator({"definitions": _DEFINITIONS, "$ref": "#/definitions/rule"})
_NOT_A_SCENARIO = "expected a list of fault rules or a mapping with `faults:`"


def _noun(schema: Mapping) -> str:
    """What a value must be, from its schema: its title, or its allowed values."""
    if "title" in schema:
        return str(schema["title"])
    return "one of " + ", ".join(map(str, schema.get("enum", ())))


def _action(rule: object) -> str:
    return str(rule.get("action")) if isinstance(rule, Mapping) else ""


def _rule_message(error: jsonschema.ValidationError, rule: object, where: Path) -> str:
    """One sentence for a schema error inside a rule; `where` is its path inside the rule."""
    action = _action(rule)
    if error.validator == "type" and not where:
        return f"a fault rule is a mapping, got {type(error.instance).__name__}"
    if "propertyNames" in error.schema_path:
        return f"unknown key {error.instance!r} in a `{action}` rule"
    if error.validator == "required":
        key = next(k for k in error.validator_value if k not in error.instance)
        owner = f"a `{action}` rule" if key != "action" else "a fault rule"
        return f"{owner} needs `{key}`: {_noun(RULE_PROPERTIES[key])}"
    if not where:
        return error.message
    allowed = error.schema.get("enum")
    if "allOf" in error.schema_path and where[0] == "endpoint" and allowed:
        names = ", ".join(allowed)
        return f"a `{action}` rule applies only to the endpoints {names}, got {error.instance!r}"
    return f"`{where[0]}` must be {_noun(error.schema)}, got {error.instance!r}"


def _order(error: jsonschema.ValidationError, rule: object, where: Path) -> tuple:
    """Report a rule's `action` first, then unknown keys, then the others as written."""
    if "propertyNames" in error.schema_path:
        return (1, 0)
    if not where or where[0] == "action":
        return (0, 0)
    keys = list(rule) if isinstance(rule, Mapping) else []
    return (2, keys.index(where[0]) if where[0] in keys else len(keys))


def _schema_problems(
    errors: Iterator[jsonschema.ValidationError], rule: object, prefix: Path
) -> list[Problem]:
    found = []
    for error in errors:
        where = tuple(error.absolute_path)
        unknown_key = "propertyNames" in error.schema_path
        path = prefix + where + ((error.instance,) if unknown_key else ())
        code = "unknown-key" if unknown_key else CODE
        order = _order(error, rule, where)
        found.append((order, Problem(code, _rule_message(error, rule, where), path)))
    return [problem for _, problem in sorted(found, key=lambda pair: pair[0])]


def _code_problem(rule: Mapping) -> str | None:
    """An error-like rule whose code the catalogue cannot complete."""
    action = rule["action"]
    if action not in DEFAULT_CODES:
        return None
    code = rule.get("code", DEFAULT_CODES[action])
    known = CATALOGUE.get(code)
    missing = [
        key
        for key, default in (
            ("status", known.status if known else None),
            ("message", known.message if known else None),
        )
        if key not in rule and default is None
    ]
    if not missing:
        return None
    why = "is not in the error catalogue (spec/errors.py)" if known is None else "has no message"
    return f"code {code!r} {why}: give {' and '.join(f'`{key}`' for key in missing)}"


def _semantic_problems(rule: Mapping, prefix: Path) -> list[Problem]:
    problems = []
    code = _code_problem(rule)
    if code is not None:
        problems.append(Problem(CODE, code, prefix + ("code",)))
    prompt = rule.get("prompt")
    reason = prompt_pattern_problem(prompt) if isinstance(prompt, str) else None
    if reason is not None:
        problems.append(Problem(CODE, reason, prefix + ("prompt",)))
    return problems


def compile_prompt(pattern: str) -> regex.Pattern[str]:
    """A rule's `prompt` compiled; ValueError (with the reason) when it is not usable."""
    if len(pattern) > PROMPT_PATTERN_MAX:
        raise ValueError(f"`prompt` has {len(pattern)} characters; at most {PROMPT_PATTERN_MAX}")
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"`prompt` is not a valid regular expression: {exc}") from None
    except (RecursionError, OverflowError, MemoryError):
        # deep nesting exhausts the compiler's recursion; huge repeat counts overflow
        raise ValueError("`prompt` is not a valid regular expression: too complex") from None


def prompt_pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be a rule's `prompt`, or None."""
    try:
        compile_prompt(pattern)
    except ValueError as exc:
        return str(exc)
    return None


def rule_problems(rule: object, prefix: Path = ()) -> list[Problem]:
    """What is wrong with one rule (the admin API's or a header's), most telling first;
    `prefix` is the rule's path in a larger document."""
    problems = _schema_problems(_RULE.iter_errors(rule), rule, prefix)
    if problems or not isinstance(rule, Mapping):
        return problems
    return _semantic_problems(rule, prefix)


def scenario_rules(document: object) -> tuple[Path, list]:
    """Where a scenario keeps its rules (a top-level list, or `faults:`) and the rules."""
    if isinstance(document, Mapping):
        rules = document.get("faults")
        return ("faults",), rules if isinstance(rules, list) else []
    return (), document if isinstance(document, list) else []


def scenario_problems(document: object) -> list[Problem]:
    """What is wrong with a scenario file's document; a rule's problems say its number."""
    prefix, rules = scenario_rules(document)
    shape = [e for e in _SCENARIO.iter_errors(document) if len(e.absolute_path) <= len(prefix)]
    if shape:
        return [Problem(CODE, _NOT_A_SCENARIO, tuple(shape[0].absolute_path))]
    return [
        Problem(p.code, f"rule {i + 1}: {p.message}", p.path)
        for i, rule in enumerate(rules)
        for p in rule_problems(rule, prefix + (i,))
    ]
