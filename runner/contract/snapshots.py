"""Snapshot folders: one `<case>.json` per case and `provenance.json`, written sorted and stable
so they diff well, and read back with every field checked.

`provenance.target` says what the snapshots are evidence of: `dashscope` (the real service:
they settle the guesses they touch), `emulator` or `url` (another implementation), or `docs`
(the expectations shipped in the repository: what the documents state, each guessed point
marked unverified).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TypedDict, TypeGuard
from urllib.parse import urlsplit

from wanform import spec
from wanform.runner.contract.cases import UNSETTLED
from wanform.runner.contract.suite import Case

FORMAT = 1
PROVENANCE = "provenance.json"
KINDS = frozenset({"dashscope", "emulator", "url", "docs"})
SHIPPED = Path(spec.__file__).resolve().parent / "contract"  # package data of `spec`
FIELDS = {"case", "rule", "source", "guess", "unverified", "answers", "tasks", "cancel", "images"}
WORDING = "errors.wording"  # the guess on a refusal's message where no page gives one
ANSWER_FIELDS = frozenset({"call", "status", "code", "message", "keys", "images", "unverified"})
TASK_FIELDS = frozenset({"statuses", "images", "keys", "code", "message", "unverified"})


class SnapshotError(Exception):
    """A snapshot folder that cannot be read as one."""


class SnapshotOrigin(TypedDict):
    """`provenance.json`: where and when a folder's snapshots were made, and what was not."""

    format: int
    target: str  # one of KINDS
    region: str | None
    host: str | None  # the base URL's host only, never a key or a query
    date: str  # YYYY-MM-DD, UTC
    wanform: str
    variants: dict[str, str]  # the emulator's variants, by name
    skipped: dict[str, str]  # case id -> why it was not played


def wanform_version() -> str:
    try:
        return version("wanform")
    except PackageNotFoundError:
        return "unknown"


def provenance(
    kind: str,
    base_url: str,
    region: str | None,
    variants: Mapping[str, str],
    skipped: Mapping[str, str],
) -> SnapshotOrigin:
    """Where and when the snapshots were made; the host only, never a key or a query."""
    return {
        "format": FORMAT,
        "target": kind,
        "region": region,
        "host": urlsplit(base_url).hostname if base_url else None,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "wanform": wanform_version(),
        "variants": dict(sorted(variants.items())),
        "skipped": dict(skipped),
    }


def snapshot(case: Case, observed: Mapping, kind: str) -> dict:
    """A case's snapshot: its description and what was observed. Guessed points it rests on
    are unverified unless the real service answered."""
    marked = _rests_on(case, {g for part in _parts(observed) for g in part.get("unverified", ())})
    if case.guess and kind != "dashscope":
        marked.add(case.guess)
    return {
        "case": case.id,
        "rule": case.rule,
        "source": case.cited,
        "guess": case.guess,
        "unverified": sorted(marked) if kind != "dashscope" else [],
        **observed,
    }


def _rests_on(case: Case, named: set[str]) -> set[str]:
    """The guesses among those the answers named that the case's expectation rests on: not one
    whose choice no snapshot shows (`UNSETTLED`), nor the wording of a message it does not
    compare."""
    unseen = set(UNSETTLED) | ({WORDING} if case.message is None else set())
    return named - (unseen - {case.guess})


def _parts(observed: Mapping) -> list[Mapping]:
    cancel = [observed["cancel"]] if observed["cancel"] else []
    return [*observed["answers"], *observed["tasks"], *cancel]


def _dump(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(
    folder: Path, snapshots: Mapping[str, dict], origin: SnapshotOrigin, known: Iterable[str]
) -> None:
    """Write each snapshot and the provenance, each file replaced atomically; an older snapshot
    of a `known` case not among them is removed, so the folder holds one recording."""
    folder.mkdir(parents=True, exist_ok=True)
    for case_id in set(known) - set(snapshots):
        (folder / f"{case_id}.json").unlink(missing_ok=True)
    for name, data in [*((f"{k}.json", v) for k, v in snapshots.items()), (PROVENANCE, origin)]:
        part = folder / f".{name}.part"
        part.write_text(_dump(data), encoding="utf-8")
        os.replace(part, folder / name)


def read(folder: Path) -> tuple[SnapshotOrigin, dict[str, dict]]:
    """(provenance, snapshots by case id); SnapshotError naming the first unreadable file."""
    origin = _load(folder / PROVENANCE)
    if not _is_origin(origin):
        raise SnapshotError(
            f"{folder / PROVENANCE}: not a wanform contract provenance of format {FORMAT}"
        )
    found: dict[str, dict] = {}
    for file in sorted(folder.glob("*.json")):
        if file.name == PROVENANCE:
            continue
        data = _load(file)
        if not _well_formed(data) or data["case"] != file.stem:
            raise SnapshotError(f"{file}: not a snapshot of case {file.stem!r}")
        found[file.stem] = data
    return origin, found


def _is_origin(data: dict) -> TypeGuard[SnapshotOrigin]:
    """Every field of `SnapshotOrigin`, with its type; the format this code reads."""
    return (
        data.get("format") == FORMAT
        and data.get("target") in KINDS
        and all(isinstance(data.get(k), str) for k in ("date", "wanform"))
        and all(isinstance(data.get(k), (str, type(None))) for k in ("region", "host"))
        and all(_strings(data.get(k)) for k in ("variants", "skipped"))
    )


def _strings(value: object) -> bool:
    """Whether `value` is a JSON object of strings."""
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _answer_ok(answer: object, fields: frozenset[str]) -> bool:
    return (
        isinstance(answer, dict)
        and fields <= set(answer)
        and isinstance(answer["keys"], dict)
        and all(isinstance(v, str) for v in answer["keys"].values())
    )


def _well_formed(data: dict) -> bool:
    """The fields `compare` reads, with the types it reads them as."""
    if set(data) != FIELDS or not isinstance(data["unverified"], list):
        return False
    answers, tasks, cancel = data["answers"], data["tasks"], data["cancel"]
    return (
        isinstance(answers, list)
        and isinstance(tasks, list)
        and isinstance(data["images"], int)
        and all(_answer_ok(a, ANSWER_FIELDS) for a in answers)
        and all(_answer_ok(t, TASK_FIELDS) and isinstance(t["statuses"], list) for t in tasks)
        and (cancel is None or _answer_ok(cancel, ANSWER_FIELDS))
    )


def _load(file: Path) -> dict:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"{file}: missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(f"{file}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise SnapshotError(f"{file}: not a JSON object")
    return data
