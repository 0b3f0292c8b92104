"""The format version of every document wanform writes, in one place.

A change to a document's format bumps its number here; the code that writes the document imports it.
"""

from __future__ import annotations

VALIDATION_REPORT = 1  # `wanform validate -o json`
RUN_REPORT = 1  # `wanform run -o json`
RUN_EVENTS = 1  # `wanform run -o ndjson`: the "v" of every line, `run_finished` included
PLAN_REPORT = 1  # `wanform plan -o json`
SIDECAR = 1  # OUT/<recipe>/<job>.json: the provenance of a job's images
LOCK = 1  # wanform.lock
RUN_HISTORY = 1  # ROOT/.wanform/runs/run-*.json: one run's summary, read by `wanform report`
