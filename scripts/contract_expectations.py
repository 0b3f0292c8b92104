"""Write the contract suite's shipped expectations (spec/contract/) from the embedded emulator.

Each case is played against the emulator with the guesses table's defaults; a case is written
only when its answer is the one the case declares from the documents (status, code, documented
message, billable images), so the shipped files state the documents' expectations, with every
guessed point marked unverified. Prints the cases it left out and why.

    python scripts/contract_expectations.py
"""

from __future__ import annotations

import asyncio
import sys

from wanform.runner.api.targets import resolve
from wanform.runner.contract import snapshots
from wanform.runner.contract.cases import SUITE
from wanform.runner.contract.expect import departures
from wanform.runner.contract.session import play_suite
from wanform.spec.models import MODELS


def main() -> int:
    played = asyncio.run(play_suite(resolve("emulator", {}), MODELS, SUITE, lambda w, c: None))
    written, left_out = {}, dict(played.skipped)
    for case in (c for c in SUITE if c.id in played.observed):
        snap = snapshots.snapshot(case, played.observed[case.id], "docs")
        problems = departures(case, snap)
        if problems:
            left_out[case.id] = "the emulator " + "; ".join(problems)
        else:
            written[case.id] = snap
    origin = snapshots.provenance("docs", "", None, {}, left_out)
    snapshots.write(snapshots.SHIPPED, written, origin, (c.id for c in SUITE))
    print(f"wrote {len(written)} expectations into {snapshots.SHIPPED}")
    for case_id, why in left_out.items():
        print(f"left out {case_id}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
