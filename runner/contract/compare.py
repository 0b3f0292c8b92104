"""Comparing a case's fresh observation with its snapshot.

Compared exactly: HTTP status, error code, response key paths and their types, image counts,
task status sequences and the framing of a stream; messages only where the documents give one
(the case's `message`, about its last answer or its cancel).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from wanform.runner.contract.snapshots import SnapshotOrigin
from wanform.runner.contract.suite import Case

SHOWN_KEYS = 3  # key differences named per answer; the rest are counted


def _keys(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    missing = [f"{k} ({v})" for k, v in expected.items() if k not in actual]
    extra = [f"{k} ({v})" for k, v in actual.items() if k not in expected]
    typed = [f"{k} is {actual[k]}, not {v}" for k, v in expected.items() if actual.get(k, v) != v]
    out = []
    for label, items in (("missing", missing), ("extra", extra), ("type", typed)):
        if items:
            more = f" and {len(items) - SHOWN_KEYS} more" if len(items) > SHOWN_KEYS else ""
            out.append(f"{label} {', '.join(items[:SHOWN_KEYS])}{more}")
    return out


def _answer(label: str, expected: Mapping, actual: Mapping, message: str | None) -> list[str]:
    out = []
    if actual["status"] != expected["status"] or actual["code"] != expected["code"]:
        out.append(
            f"{label}: {actual['status']} {actual['code'] or ''}".rstrip()
            + f", expected {expected['status']} {expected['code'] or ''}".rstrip()
        )
    if message is not None and actual["message"] != expected["message"]:
        out.append(f"{label}: message {actual['message']!r}, expected {expected['message']!r}")
    if actual.get("stream") != expected.get("stream"):
        out.append(
            f"{label}: stream lines {actual.get('stream')}, expected {expected.get('stream')}"
        )
    if actual["images"] != expected["images"]:
        out.append(f"{label}: {actual['images']} images, expected {expected['images']}")
    out += [f"{label}: {d}" for d in _keys(expected["keys"], actual["keys"])]
    return out


def _task(label: str, expected: Mapping, actual: Mapping) -> list[str]:
    out = []
    if actual["statuses"] != expected["statuses"]:
        seq, want = " > ".join(actual["statuses"]), " > ".join(expected["statuses"])
        out.append(f"{label}: {seq}, expected {want}")
    if actual["code"] != expected["code"]:
        out.append(f"{label}: code {actual['code']}, expected {expected['code']}")
    if actual["images"] != expected["images"]:
        out.append(f"{label}: {actual['images']} images, expected {expected['images']}")
    out += [f"{label}: {d}" for d in _keys(expected["keys"], actual["keys"])]
    return out


def differences(case: Case, expected: Mapping, actual: Mapping) -> list[str]:
    """What differs between a snapshot and a fresh observation of `case`, one phrase each."""
    out: list[str] = []
    answers, want = actual["answers"], expected["answers"]
    if len(answers) != len(want):
        return [f"{len(answers)} answers, expected {len(want)}"]
    for i, (got, exp) in enumerate(zip(answers, want, strict=True), 1):
        last = i == len(want) and not case.cancel
        out += _answer(f"answer {i} ({exp['call']})", exp, got, case.message if last else None)
    tasks, want_tasks = actual["tasks"], expected["tasks"]
    if len(tasks) != len(want_tasks):
        out.append(f"{len(tasks)} tasks, expected {len(want_tasks)}")
    else:
        for i, (got, exp) in enumerate(zip(tasks, want_tasks, strict=True), 1):
            out += _task(f"task {i}", exp, got)
    cancel, want_cancel = actual["cancel"], expected["cancel"]
    if (cancel is None) != (want_cancel is None):
        out.append(f"cancel {'answered' if cancel else 'not sent'}, expected otherwise")
    elif cancel is not None and want_cancel is not None:
        out += _answer("cancel", want_cancel, cancel, case.message)
    if actual["images"] != expected["images"]:
        out.append(f"{actual['images']} images in all, expected {expected['images']}")
    return out


def verdict(diffs: list[str], expected: Mapping, settles: bool) -> str:
    """How a case counts: `differs`; else `verified` (the snapshot came from DashScope),
    `unverified` (it rests on a guess) or `agrees`."""
    if diffs:
        return "differs"
    if settles:
        return "verified"
    return "unverified" if expected["unverified"] else "agrees"


def summary(counts: Counter, origin: SnapshotOrigin) -> str:
    """The closing line of a check."""
    played = sum(counts.values())
    head = (
        f"{played} cases played against the snapshots of {origin['target']} "
        f"({origin['date']}): {counts['differs']} differ, "
    )
    if origin["target"] == "dashscope":
        return head + f"{counts['verified']} agree with DashScope (verified)"
    agree = counts["agrees"] + counts["unverified"]
    return head + (
        f"{agree} agree, {counts['unverified']} of them only with an unverified expectation "
        "(a guess: not verified)"
    )
