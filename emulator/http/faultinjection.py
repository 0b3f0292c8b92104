"""Fault injection on the routes, written once: each route names its fault endpoint when added.

`faulty(endpoint, handler)` wraps a handler. When the handler knows who is calling and about
what, it calls `await checkpoint(request, ...)`: the `X-Wanform-Fault` header is read (on the
DashScope API routes only), the rules decide, the rules that fired are noted for the log, and
latency, an `error` answer or a `drop: before` happen there. Once the handler has answered,
`drop: after` closes the connection. `fail`, `partial` and `cut` act on the task, not on the
answer: the submission handler passes its task and the returned `Step` to `apply_to_task`, and a
`cut` is carried out by the download handler.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from wanform.emulator.errors import ConnectionDropped, ErrorReply, invalid_parameter
from wanform.emulator.http.context import EMULATOR, note, unverified
from wanform.emulator.state.accounts import Account
from wanform.emulator.state.clock import VirtualClock
from wanform.emulator.state.faultbook import Context, Decision, Rule
from wanform.emulator.state.tasks import Task
from wanform.spec.emulator.faultrules import ENDPOINTS, SUBMIT_ENDPOINTS
from wanform.spec.emulator.wire import FAULT_HEADER

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The DashScope API routes read the header; the object-storage routes (upload, result) do not.
HEADER_ENDPOINTS = frozenset({*SUBMIT_ENDPOINTS, "task", "cancel", "list", "policy"})


@dataclass
class Step:
    """The fault step of one request: its route's endpoint, then the rules' decision."""

    endpoint: str
    decision: Decision = field(default_factory=Decision)  # no faults until the checkpoint
    header_rules: list[Rule] = field(default_factory=list)


STEP = web.RequestKey("wanform.fault_step", Step)


def faulty(endpoint: str, handler: Handler) -> Handler:
    """`handler` with the fault step of `endpoint`; it must `await checkpoint(request, ...)`."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown fault endpoint {endpoint!r}")

    @functools.wraps(handler)
    async def with_faults(request: web.Request) -> web.StreamResponse:
        step = Step(endpoint)
        request[STEP] = step
        response = await handler(request)
        enact_after(step.decision)
        return response

    return with_faults


async def checkpoint(
    request: web.Request,
    account: Account | None = None,
    model: str | None = None,
    prompt: str | None = None,
    extra: Sequence[Rule] = (),
) -> Step:
    """Decide this request's faults and enact what acts before the answer; `extra` rules last."""
    step = request[STEP]
    emulator = request.app[EMULATOR]
    if step.endpoint in HEADER_ENDPOINTS:
        step.header_rules = header_rules(request, step.endpoint)
    if not (emulator.faults.rules or step.header_rules or extra):
        return step  # no rule to consult, as on most requests: nothing fires
    context = Context(step.endpoint, account, model, prompt)
    step.decision = emulator.faults.decide(context, [*step.header_rules, *extra])
    note(request, faults=step.decision.fired)
    await enact_before(step.decision, emulator.clock)
    return step


def header_rules(request: web.Request, endpoint: str) -> list[Rule]:
    """The rules in the request's `X-Wanform-Fault` header; 400 InvalidParameter if malformed."""
    try:
        return request.app[EMULATOR].faults.header_rules(
            request.headers.get(FAULT_HEADER), endpoint
        )
    except ValueError as exc:
        raise invalid_parameter(f"{FAULT_HEADER}: {exc}") from None


async def enact_before(decision: Decision, clock: VirtualClock) -> None:
    """Wait out the latency, then answer with the injected error or drop the connection."""
    if decision.latency:
        await clock.sleep(decision.latency)
    rule = decision.rule
    if rule is not None and rule.action == "error":
        raise ErrorReply(rule.status, rule.code, rule.message)
    if rule is not None and rule.action == "drop" and rule.when == "before":
        raise ConnectionDropped()


def enact_after(decision: Decision) -> None:
    """Drop the connection once the request has taken effect, if the rule says so."""
    rule = decision.action("drop")
    if rule is not None and rule.when == "after":
        raise ConnectionDropped()


def apply_to_task(request: web.Request, task: Task, step: Step) -> None:
    """What the step's rules do to the task it created: fail it, fail some images, cut its
    downloads. A partial failure in messages style follows the guess `messages.partial_failure`.
    """
    rule = step.decision.action("fail", "partial")
    if rule is not None and rule.action == "fail":
        task.failure = (rule.code, rule.message)
    elif rule is not None:
        task.failed_images = rule.failures(task.brief.count)
        if task.brief.style != "results" and task.failed_images:
            unverified(request, "messages.partial_failure")
            if request.app[EMULATOR].config.guess("messages.partial_failure") == "fail":
                task.failure = next(iter(task.failed_images.values()))
    task.rules = tuple(r for r in step.header_rules if r.action == "cut")
