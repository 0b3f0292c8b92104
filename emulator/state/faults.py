"""Fault rules: make the emulator fail the way DashScope sometimes does, on purpose and repeatably.

A rule is a flat mapping (YAML scenario file, `POST /__emulator/faults`, or the JSON of an
`X-Wanform-Fault` request header):

    action: error | fail | partial | latency | drop | cut
    # which requests (all optional)
    model: wan2.7-image        prompt: "(?i)cat"  (regex, searched)
    account: sk-... or its key id (uploads to /__oss/upload carry no key: account rules skip them)
    endpoint: submit | any | sync | async | synthesis | task | cancel | list | policy | upload
              | result
              (or a list; default: submit, and result for `cut`)
    nth: 3            fire on the 3rd matching request only
    times: 2          fire at most twice
    probability: 0.5  fire on about half (seeded by the emulator's --seed: replays identically)
    # what happens
    error:   status, code, message  HTTP error; status and message default from the code
    fail:    code, message          the task ends FAILED (a sync call answers with the error)
    partial: failed (k), code, message  the last k of the n images fail; SUCCEEDED if any is left
    latency: seconds                virtual seconds before the request is handled
    drop:    when: before | after   close the connection without an answer, before or after
                                    the task is created (or the request handled)
    cut:                            send half of a result file, then close the connection

Rules are consulted in order; latency rules add up, and the first other matching rule acts
(later ones do not count the request). The header is read on the DashScope API endpoints
(submissions, task query, cancel, list, upload policy); a header rule that names no endpoint
applies to the request carrying it, and a `cut` header rule on a submission goes with the task
it creates, to be consulted on its downloads.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.errors import CATALOGUE
from emulator.state.accounts import Account
from spec.yamlloc import YamlError, load_file

SUBMIT = ("sync", "async", "synthesis")
ENDPOINTS = SUBMIT + ("task", "cancel", "list", "policy", "upload", "result")
ACTIONS = ("error", "fail", "partial", "latency", "drop", "cut")
MATCH_KEYS = frozenset({"model", "prompt", "account", "endpoint", "nth", "times", "probability"})
ACTION_KEYS: Mapping[str, frozenset[str]] = {
    "error": frozenset({"status", "code", "message"}),
    "fail": frozenset({"code", "message"}),
    "partial": frozenset({"failed", "code", "message"}),
    "latency": frozenset({"seconds"}),
    "drop": frozenset({"when"}),
    "cut": frozenset(),
}
DEFAULT_CODES = {
    "error": "InternalError",
    "fail": "InternalError",
    "partial": "InternalError.Timeout",
}
HEADER = "X-Wanform-Fault"


@dataclass(frozen=True)
class Context:
    """What a rule can match on, for one request."""

    endpoint: str
    account: Account | None = None
    model: str | None = None
    prompt: str | None = None


@dataclass(eq=False)
class Rule:
    """One parsed rule with its counters; `given` is what the user wrote."""

    id: str
    action: str
    given: Mapping[str, Any]
    endpoints: tuple[str, ...]
    rng: random.Random
    model: str | None = None
    prompt: re.Pattern[str] | None = None
    account: str | None = None
    nth: int | None = None
    times: int | None = None
    probability: float | None = None
    status: int = 500
    code: str = ""
    message: str = ""
    failed: int = 1
    seconds: float = 0.0
    when: str = "before"
    seen: int = 0
    fired: int = 0

    def matches(self, ctx: Context) -> bool:
        """Whether the rule fires on this request; counts the request when its criteria hold."""
        if not self._criteria(ctx):
            return False
        self.seen += 1
        if self.nth is not None and self.seen != self.nth:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        if self.probability is not None and self.rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def _criteria(self, ctx: Context) -> bool:
        if ctx.endpoint not in self.endpoints or (
            self.model is not None and ctx.model != self.model
        ):
            return False
        if self.account is not None and (
            ctx.account is None or self.account not in (ctx.account.key, ctx.account.key_id)
        ):
            return False
        return self.prompt is None or (
            ctx.prompt is not None and self.prompt.search(ctx.prompt) is not None
        )

    def describe(self) -> dict:
        return {"id": self.id, **self.given, "seen": self.seen, "fired": self.fired}

    def failures(self, count: int) -> dict[int, tuple[str, str]]:
        """For `partial`: which image indexes fail (the last `failed` of `count`)."""
        return {i: (self.code, self.message) for i in range(max(0, count - self.failed), count)}


@dataclass
class Decision:
    """What the matching rules do to one request."""

    latency: float = 0.0
    rule: Rule | None = None
    fired: list[str] = field(default_factory=list)

    def action(self, *names: str) -> Rule | None:
        return self.rule if self.rule is not None and self.rule.action in names else None


def _int(data: Mapping, key: str, low: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"`{key}` must be an integer of at least {low}, got {value!r}")
    return value


def _endpoints(data: Mapping, action: str) -> tuple[str, ...]:
    given = data.get("endpoint", "result" if action == "cut" else "submit")
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"`endpoint` must be a name or a list of names, got {given!r}")
    out: list[str] = []
    for name in names:
        expanded = {"submit": SUBMIT, "any": ENDPOINTS}.get(name, (name,))
        if expanded[0] not in ENDPOINTS:
            raise ValueError(
                f"unknown endpoint {name!r}; known: submit, any, {', '.join(ENDPOINTS)}"
            )
        out.extend(expanded)
    allowed = {"fail": SUBMIT, "partial": SUBMIT, "cut": ("result",)}.get(action, ENDPOINTS)
    if any(n not in allowed for n in out):
        raise ValueError(f"`{action}` applies only to the endpoints {', '.join(allowed)}")
    return tuple(out)


def _error_fields(data: Mapping, action: str) -> dict:
    code = data.get("code", DEFAULT_CODES[action])
    if not isinstance(code, str) or not code:
        raise ValueError(f"`code` must be a DashScope error code, got {code!r}")
    known_status, known_message = CATALOGUE.get(code, (None, None))
    status = data.get("status", known_status)
    message = data.get("message", known_message)
    if status is None or message is None:
        raise ValueError(
            f"code {code!r} is not in the emulator's catalogue: give `status` and `message`"
        )
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise ValueError(f"`status` must be an HTTP error status (400-599), got {status!r}")
    if not isinstance(message, str):
        raise ValueError(f"`message` must be a string, got {message!r}")
    return {"code": code, "status": status, "message": message}


def _action_fields(data: Mapping, action: str) -> dict:
    fields: dict[str, Any] = {}
    if action in DEFAULT_CODES:
        fields.update(_error_fields(data, action))
    if action == "partial":
        fields["failed"] = _int(data, "failed", 1) or 1
    if action == "latency":
        seconds = data.get("seconds")
        if (
            not isinstance(seconds, (int, float))
            or isinstance(seconds, bool)
            or not 0 < seconds <= 86400
        ):
            raise ValueError(f"`seconds` must be a number in (0, 86400], got {seconds!r}")
        fields["seconds"] = float(seconds)
    if action == "drop":
        fields["when"] = data.get("when", "before")
        if fields["when"] not in ("before", "after"):
            raise ValueError(f"`when` must be before or after, got {fields['when']!r}")
    return fields


def _match_fields(data: Mapping) -> dict:
    fields: dict[str, Any] = {"nth": _int(data, "nth", 1), "times": _int(data, "times", 0)}
    for key in ("model", "account"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ValueError(f"`{key}` must be a string, got {data[key]!r}")
        fields[key] = data.get(key)
    if data.get("prompt") is not None:
        try:
            fields["prompt"] = re.compile(str(data["prompt"]))
        except re.error as exc:
            raise ValueError(f"`prompt` is not a valid regular expression: {exc}") from None
    probability = data.get("probability")
    if probability is not None and (
        not isinstance(probability, (int, float))
        or isinstance(probability, bool)
        or not 0 <= probability <= 1
    ):
        raise ValueError(f"`probability` must be a number from 0 to 1, got {probability!r}")
    fields["probability"] = probability
    return fields


def parse_rule(data: object, rule_id: str, seed: int) -> Rule:
    """A rule from its mapping form; ValueError with a readable reason when it is not one."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a fault rule is a mapping, got {type(data).__name__}")
    action = data.get("action")
    if action not in ACTIONS:
        raise ValueError(f"`action` must be one of {', '.join(ACTIONS)}, got {action!r}")
    unknown = sorted(set(data) - MATCH_KEYS - ACTION_KEYS[action] - {"action"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} in a `{action}` rule")
    return Rule(
        id=rule_id,
        action=action,
        given=dict(data),
        endpoints=_endpoints(data, action),
        rng=random.Random(f"{seed}/{rule_id}"),
        **_match_fields(data),
        **_action_fields(data, action),
    )


def load_scenario(path: str | Path) -> list[Mapping]:
    """The rules of a YAML scenario file (a list of rules, or a mapping with a `faults` list), each checked.

    Problems are ValueErrors that start with `path:line:column:`, like a recipe's.
    """
    try:
        located = load_file(str(path))
    except YamlError as exc:
        where = f"{exc.mark.line}:{exc.mark.column}:" if exc.mark else ""
        raise ValueError(f"{path}:{where} cannot read the scenario: {exc.message}") from None
    nested = isinstance(located.data, dict)
    rules = located.data.get("faults") if nested else located.data
    if not isinstance(rules, list):
        raise ValueError(f"{path}:1:1: expected a list of fault rules or a mapping with `faults:`")
    for i, rule in enumerate(rules):
        try:
            parse_rule(rule, f"r{i + 1}", 0)
        except ValueError as exc:
            mark = located.mark(("faults", i) if nested else (i,))
            raise ValueError(f"{path}:{mark.line}:{mark.column}: rule {i + 1}: {exc}") from None
    return rules


def _for_endpoint(item: object, endpoint: str) -> object:
    """A header rule without `endpoint` (but `cut`) made to match the request that carries it."""
    if isinstance(item, Mapping) and "endpoint" not in item and item.get("action") != "cut":
        return {**item, "endpoint": endpoint}
    return item


class FaultBook:
    """The active rules, their counters and random streams; `reset` restores the configured ones."""

    def __init__(self, seed: int, configured: list[Mapping]) -> None:
        self._seed = seed
        self._configured = configured
        self.rules: list[Rule] = []
        self._serial = 0
        self.reset()

    def reset(self) -> None:
        self._serial = 0
        self.rules = []
        self._header_rng = random.Random(f"{self._seed}/header")
        self.add(self._configured)

    def add(self, data: object) -> list[Rule]:
        """Append one rule or a list of them, all or nothing; ValueError names a list's bad rule."""
        if not isinstance(data, list):
            return self._append([parse_rule(data, f"r{self._serial + 1}", self._seed)])
        rules = []
        for i, item in enumerate(data):
            try:
                rules.append(parse_rule(item, f"r{self._serial + i + 1}", self._seed))
            except ValueError as exc:
                raise ValueError(f"rule {i + 1}: {exc}") from None
        return self._append(rules)

    def _append(self, rules: list[Rule]) -> list[Rule]:
        self._serial += len(rules)
        self.rules.extend(rules)
        return rules

    def remove(self, rule_id: str) -> bool:
        kept = [r for r in self.rules if r.id != rule_id]
        found = len(kept) != len(self.rules)
        self.rules = kept
        return found

    def clear(self) -> None:
        self.rules = []

    def header_rules(self, value: str | None, endpoint: str) -> list[Rule]:
        """The rules an `X-Wanform-Fault` header on an `endpoint` request carries.

        A rule that names no endpoint is for the request carrying it (a `cut` rule: for the
        task's downloads). ValueError when the header is not JSON or a rule is invalid.
        """
        if not value:
            return []
        data = json.loads(value)
        items = [
            _for_endpoint(item, endpoint) for item in (data if isinstance(data, list) else [data])
        ]
        rules = [parse_rule(item, f"header-{i + 1}", self._seed) for i, item in enumerate(items)]
        for rule in rules:
            rule.rng = self._header_rng
        return rules

    def decide(self, ctx: Context, extra: Sequence[Rule] = ()) -> Decision:
        """Consult the rules (then `extra`) for one request."""
        decision = Decision()
        for rule in [*self.rules, *extra]:
            if rule.action != "latency" and decision.rule is not None:
                continue
            if rule.matches(ctx):
                decision.fired.append(rule.id)
                if rule.action == "latency":
                    decision.latency += rule.seconds
                else:
                    decision.rule = rule
        return decision
