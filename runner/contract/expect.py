"""Whether a snapshot shows the answer a case declares: the documents' status, code and message
(or, for a guessed point, the guess's default). The shipped expectations must all show it."""

from __future__ import annotations

from collections.abc import Mapping

from wanform.runner.contract.suite import Case


def rule_answer(case: Case, snapshot: Mapping) -> Mapping | None:
    """The answer the case's rule is about: its cancel's, else its last call's."""
    if case.cancel:
        return snapshot["cancel"]
    return snapshot["answers"][-1] if snapshot["answers"] else None


def departures(case: Case, snapshot: Mapping) -> list[str]:
    """How the snapshot departs from what the case declares; empty when it does not."""
    answer = rule_answer(case, snapshot)
    if answer is None:
        return ["no answer to the rule's request"]
    out = []
    if (answer["status"], answer["code"]) != (case.status, case.code):
        out.append(
            f"answered {answer['status']} {answer['code']}, the case declares "
            f"{case.status} {case.code}"
        )
    if case.message is not None and answer["message"] != case.message:
        out.append(f"message {answer['message']!r}, the documents give {case.message!r}")
    images = snapshot["images"]
    if images != case.images:
        out.append(f"{images} images, the case declares {case.images}")
    if case.streamed is not None and ("stream" in answer) != case.streamed:
        got = "an event stream" if "stream" in answer else "plain JSON"
        want = "an event stream" if case.streamed else "plain JSON"
        out.append(f"answered with {got}, the case declares {want}")
    return out
