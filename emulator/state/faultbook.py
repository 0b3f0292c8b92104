"""Fault rules: make the emulator fail the way DashScope sometimes does, on purpose and repeatably.

A rule is a flat mapping (YAML scenario file, `POST /__emulator/faults`, or the JSON of an
`X-Wanform-Fault` request header), checked against spec/schemas/faults.schema.json:

    action: error | fail | partial | latency | drop | cut
    # which requests (all optional)
    model: wan2.7-image        prompt: "(?i)cat"  (regex, searched; at most 500 characters,
                                                   a search over 50 ms counts as no match)
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
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from wanform.emulator.state.accounts import Account
from wanform.spec.emulator.faultrules import (
    DEFAULT_CODES,
    ENDPOINTS,
    PROMPT_MATCH_SECONDS,
    SUBMIT_ENDPOINTS,
    compile_prompt,
    rule_problems,
    scenario_problems,
    scenario_rules,
)
from wanform.spec.errors import CATALOGUE
from wanform.spec.yamlloc import YamlError, load_file

LOG = logging.getLogger("wanform.emulator")


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
    prompt: regex.Pattern[str] | None = None
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
        return self.prompt is None or (ctx.prompt is not None and self._prompt_matches(ctx.prompt))

    def _prompt_matches(self, prompt: str) -> bool:
        """A time-bounded search: a pattern that backtracks for too long counts as no match."""
        assert self.prompt is not None
        try:
            return self.prompt.search(prompt, timeout=PROMPT_MATCH_SECONDS) is not None
        except TimeoutError:
            LOG.warning("fault rule %s: `prompt` search timed out; no match", self.id)
            return False

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


def _endpoints(data: Mapping, action: str) -> tuple[str, ...]:
    """The endpoint names a rule covers, `submit` and `any` spelled out."""
    given = data.get("endpoint", "result" if action == "cut" else "submit")
    names = [given] if isinstance(given, str) else given
    expanded = ({"submit": SUBMIT_ENDPOINTS, "any": ENDPOINTS}.get(name, (name,)) for name in names)
    return tuple(name for group in expanded for name in group)


def _error_fields(data: Mapping, action: str) -> dict:
    """Code, status and message of an error-like rule, defaults from spec/errors.py."""
    code = data.get("code", DEFAULT_CODES[action])
    known = CATALOGUE.get(code)
    status = data.get("status", known and known.status)
    message = data.get("message", known and known.message)
    return {"code": code, "status": status, "message": message}


def _action_fields(data: Mapping, action: str) -> dict:
    """What the action does; keys it does not take are left at the Rule's defaults."""
    fields: dict[str, Any] = {
        key: data[key] for key in ("failed", "when") if data.get(key) is not None
    }
    if action in DEFAULT_CODES:
        fields.update(_error_fields(data, action))
    if "seconds" in data:
        fields["seconds"] = float(data["seconds"])
    return fields


def _match_fields(data: Mapping) -> dict:
    """What the rule matches on; `prompt` compiled."""
    fields = {key: data.get(key) for key in ("model", "account", "nth", "times", "probability")}
    prompt = data.get("prompt")
    fields["prompt"] = compile_prompt(prompt) if prompt is not None else None
    return fields


def parse_rule(data: object, rule_id: str, seed: int) -> Rule:
    """A rule from its mapping form; ValueError with a readable reason when it is not one."""
    problems = rule_problems(data)
    if problems:
        raise ValueError(problems[0].message)
    assert isinstance(data, Mapping)  # rule_problems refuses anything else
    action = data["action"]
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
    """The rules of a YAML scenario file (a list of rules, or a mapping with a `faults` list).

    Problems are ValueErrors that start with `path:line:column:`, like a recipe's: the place
    of the offending value (of the key, for an unknown key).
    """
    try:
        located = load_file(str(path))
    except YamlError as exc:
        where = f"{exc.mark.line}:{exc.mark.column}:" if exc.mark else ""
        raise ValueError(f"{path}:{where} cannot read the scenario: {exc.message}") from None
    problems = scenario_problems(located.data)
    if problems:
        first = problems[0]
        mark = located.mark(first.path, key=first.code == "unknown-key")
        raise ValueError(f"{path}:{mark.line}:{mark.column}: {first.message}")
    return scenario_rules(located.data)[1]


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
