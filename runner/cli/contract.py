"""`wanform contract record|check`: the parity suite against DashScope or an emulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import click

from wanform.runner import signals
from wanform.runner.api.errors import WanformError
from wanform.runner.api.targets import Target, dashscope_region
from wanform.runner.cli.options import variants_option
from wanform.runner.cli.steps import check_writable, fail, resolve_target
from wanform.runner.exits import Exit
from wanform.spec.models import ModelSpec, choose

CONTRACT_TARGET_HELP = (
    "emulator (embedded, offline), dashscope (DASHSCOPE_API_KEY and the SDK's base URL "
    "variables), or a base URL such as http://127.0.0.1:8000/api/v1."
)
MAX_COST_HELP = (
    "Refuse, before anything is sent, a suite whose images could cost more than this many CNY "
    "at list price. An emulator (a target answering /__emulator/clock) costs nothing."
)


class Refused(Exception):
    """The suite would cost more than --max-cost, or cannot run against this target."""


def _approve(max_cost: float):
    from wanform.runner.contract.reach import bill

    def approve(where, cases) -> None:
        if where.emulator:
            if where.speed <= 0:
                raise Refused("the target emulator's clock is frozen (speed 0): tasks never end")
            click.echo(f"{len(cases)} cases against an emulator: nothing is billed", err=True)
            return
        cost = bill(cases)
        click.echo(f"{len(cases)} cases would make {cost.describe()}", err=True)
        if cost.most_cost > max_cost:
            raise Refused(
                f"the suite could cost {cost.most_cost:.2f} CNY, over --max-cost {max_cost:g}; "
                f"nothing was sent (pass --max-cost {cost.most_cost:.2f} to accept)"
            )

    return approve


def _chosen(case_ids: tuple[str, ...]):
    from wanform.runner.contract.cases import CASES, SUITE

    unknown = [c for c in case_ids if c not in CASES]
    if unknown:
        fail(f"--case {unknown[0]!r} is not a case of the suite; known: {', '.join(CASES)}")
    return [CASES[c] for c in case_ids] if case_ids else list(SUITE)


def _play(target: Target, models: Mapping[str, ModelSpec], cases, max_cost: float):
    from wanform.runner.contract.session import play_suite

    if not target.embedded and next(iter(models.values())).variants:
        click.echo("note: --variants applies to the embedded emulator only", err=True)

    def progress(case) -> None:
        click.echo(f"  {case.id}", err=True)

    try:
        return asyncio.run(play_suite(target, models, cases, _approve(max_cost), progress))
    except Refused as exc:
        fail(str(exc))
    except WanformError as exc:
        fail(exc.message, Exit.STOPPED)


def _kind(target: Target, emulator: bool) -> str:
    if target.name == "dashscope" or (not emulator and dashscope_region(target.base_url)):
        return "dashscope"
    return "emulator" if emulator else "url"


def _region(kind: str, base_url: str) -> str | None:
    """The DashScope region a base URL points at (its host says so)."""
    return (dashscope_region(base_url) or "cn-beijing") if kind == "dashscope" else None


def _settled(case, differs: bool, embedded: bool, variants, expected) -> None:
    """The line for a guessed point that DashScope's snapshot settles; on the embedded emulator,
    a differing one names the value of the guess that answers as DashScope did."""
    from wanform.runner.contract.session import alternative

    verdict = "differs from" if differs else "agrees with"
    line = f"settled {case.guess} by case {case.id}: DashScope {verdict} the target"
    if embedded:
        line += f", whose choice is {case.guess}={choose(variants, case.guess)}"
    if differs and embedded:
        value = asyncio.run(alternative(case, expected, variants))
        line += (
            f"; DashScope answers as {case.guess}={value} (--variants {case.guess}={value})"
            if value is not None
            else f"; no other value of {case.guess} answers as DashScope did"
        )
    click.echo(line)


max_cost_option = click.option(
    "--max-cost", type=click.FloatRange(min=0), default=0.0, show_default=True, help=MAX_COST_HELP
)
case_option = click.option(
    "--case", "case_ids", multiple=True, metavar="ID", help="Play only this case (repeatable)."
)


@click.group()
def contract() -> None:
    """The parity suite: record what a target answers, or check a target against snapshots."""


@contract.command()
@click.option("--target", "target_choice", required=True, help=CONTRACT_TARGET_HELP)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Snapshot folder.")
@max_cost_option
@case_option
@variants_option
def record(
    target_choice: str,
    out: str,
    max_cost: float,
    case_ids: tuple[str, ...],
    models: Mapping[str, ModelSpec],
) -> None:
    """Play the suite against a target and write one normalised snapshot per case into --out,
    with provenance.json. Prints the billable images and their list price first."""
    from wanform.runner.contract import snapshots
    from wanform.runner.contract.cases import CASES
    from wanform.runner.contract.expect import departures

    signals.on_stop("no snapshot was written")
    cases = _chosen(case_ids)
    folder = Path(out)
    check_writable("--out", folder)
    target = resolve_target(target_choice)
    played = _play(target, models, cases, max_cost)
    kind = _kind(target, played.where.emulator)
    variants = next(iter(models.values())).variants if target.embedded else {}
    origin = snapshots.provenance(
        kind, played.where.base_url, _region(kind, played.where.base_url), variants, played.skipped
    )
    by_id = {c.id: c for c in cases}
    written = {
        case_id: snapshots.snapshot(by_id[case_id], seen, kind)
        for case_id, seen in played.observed.items()
    }
    try:
        snapshots.write(folder, written, origin, CASES)
    except OSError as exc:
        fail(f"--out: cannot write the snapshots into {folder}: {exc.strerror or exc}")
    click.echo(f"recorded {len(written)} cases from {kind} into {folder}")
    for case_id, snap in written.items():
        departed = departures(by_id[case_id], snap)
        if departed:
            click.echo(f"departs {case_id} from its documented expectation: {'; '.join(departed)}")
    for case_id, why in played.skipped.items():
        click.echo(f"skipped {case_id}: {why}")


@contract.command()
@click.option(
    "--target", "target_choice", default="emulator", show_default=True, help=CONTRACT_TARGET_HELP
)
@click.option(
    "--snapshots",
    "folder",
    type=click.Path(file_okay=False),
    help="Snapshot folder to compare with. Default: the expectations shipped in spec/contract.",
)
@max_cost_option
@case_option
@variants_option
def check(
    target_choice: str,
    folder: str | None,
    max_cost: float,
    case_ids: tuple[str, ...],
    models: Mapping[str, ModelSpec],
) -> None:
    """Play the suite against a target and compare each case with its snapshot. Exit 0 when all
    agree, 3 when any differs, 1 for unreadable snapshots."""
    from wanform.runner.contract import compare, snapshots
    from wanform.runner.contract.cases import SUITE

    signals.on_stop("nothing was compared")
    try:
        origin, expected = snapshots.read(Path(folder) if folder else snapshots.SHIPPED)
    except snapshots.SnapshotError as exc:
        fail(str(exc))
    chosen = _chosen(case_ids)
    cases = [c for c in chosen if c.id in expected]
    missing = [c.id for c in chosen if c.id not in expected]
    if not cases:
        fail(f"{folder or snapshots.SHIPPED}: no snapshot of any case to compare with")
    target = resolve_target(target_choice)
    played = _play(target, models, cases, max_cost)
    variants = next(iter(models.values())).variants
    settles = origin["target"] == "dashscope"
    counts: Counter = Counter()
    for case in (c for c in cases if c.id in played.observed):
        diffs = compare.differences(case, expected[case.id], played.observed[case.id])
        counts[compare.verdict(diffs, expected[case.id], settles)] += 1
        if diffs:
            click.echo(f"differs {case.id}: {'; '.join(diffs)}")
        if settles and case.guess:
            _settled(case, bool(diffs), target.embedded, variants, expected[case.id])
    click.echo(compare.summary(counts, origin))
    strangers = sorted(set(expected) - {c.id for c in SUITE})
    if strangers:
        click.echo(f"snapshots of no case in this suite: {', '.join(strangers)}")
    if missing:
        click.echo(f"not recorded: {', '.join(missing)}")
    if played.skipped:
        click.echo(f"not played: {'; '.join(f'{k} ({v})' for k, v in played.skipped.items())}")
    raise SystemExit(Exit.FAILED if counts["differs"] else Exit.OK)
