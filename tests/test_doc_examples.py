"""The API documents' JSON examples validate against spec/schemas, and the response schemas reject
wrong bodies.

The examples and where each comes from are listed in tests/doc_examples/manifest.json; the documents
themselves are read from $WANFORM_SHARED (see tests/doc_examples/extract.py).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from wanform.spec.schema import load_schema
from wanform.spec.schemagen import SCHEMA_DIR


def _import_extract():
    """tests/doc_examples/extract.py as a module;
    tests/ is not a package, so it is loaded by path."""
    path = Path(__file__).parent / "doc_examples" / "extract.py"
    spec = importlib.util.spec_from_file_location("doc_examples_extract", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


extract = _import_extract()
EXAMPLES_DIR = extract.MANIFEST.parent
MANIFEST = extract.manifest()
EXAMPLES = MANIFEST["examples"]
DRAFT7 = "http://json-schema.org/draft-07/schema#"
SCHEMA_BASE = "https://wanform.dev/schemas/"
# Comparing examples with their sources needs the documents; a checkout without them still validates
# the examples.
needs_docs = pytest.mark.skipif(
    not (extract.SHARED / "docs").is_dir(),
    reason=f"API documents not found at {extract.SHARED}; set WANFORM_SHARED",
)
RESPONSE_SCHEMAS = {
    "response-task-created",
    "response-task",
    "response-sync",
    "response-error",
    "response-cancel",
    "response-task-list",
    "response-upload-policy",
}

each_example = pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"{e['schema']}:{e['file']}" for e in EXAMPLES]
)


def read_example(file: str) -> object:
    """The JSON held by an example file."""
    return json.loads((EXAMPLES_DIR / file).read_text(encoding="utf-8"))


def parent_of(document: object, path: list) -> tuple[object, str | int]:
    """The container holding the value at `path`
    (keys and indexes), and that value's key or index in it."""
    *parents, last = path
    for key in parents:
        document = document[key]
    return document, last


def document_for(example: dict) -> object:
    """What gets validated: the example itself,
    or for a fragment its envelope with the example placed at `at`."""
    body = read_example(example["file"])
    if "envelope" not in example:
        return body
    document = copy.deepcopy(example["envelope"])
    holder, key = parent_of(document, example["at"])
    holder[key] = {**holder[key], **body} if isinstance(holder[key], dict) else body
    return document


def errors(schema: str, document: object) -> list[tuple[str, list]]:
    """(keyword, path) of each top-level validation error, sorted."""
    found = Draft7Validator(load_schema(schema)).iter_errors(document)
    return sorted((error.validator, list(error.absolute_path)) for error in found)


@pytest.mark.parametrize(
    "path", sorted(SCHEMA_DIR.glob("*.schema.json")), ids=lambda path: path.name
)
def test_schema_file_is_draft7(path: Path) -> None:
    """Every schema file is a valid draft-07 schema that
    declares draft-07 and an $id named after the file."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    assert (schema["$schema"], schema["$id"]) == (DRAFT7, SCHEMA_BASE + path.name)


@each_example
def test_example_matches_its_schema(example: dict) -> None:
    """Each doc example validates against its schema with exactly the errors the manifest expects
    (normally none)."""
    found = Draft7Validator(load_schema(example["schema"])).iter_errors(document_for(example))
    assert sorted(error.message for error in found) == example.get("expect_errors", [])


@needs_docs
@each_example
def test_example_is_faithful_to_its_sources(example: dict) -> None:
    """An example file is its first source's text byte for byte,
    and every listed source decodes to the same JSON."""
    text = (EXAMPLES_DIR / example["file"]).read_text(encoding="utf-8")
    sources = example["sources"]
    blocks = [
        extract.decode_at(source["doc"], source["line"], source.get("fix")) for source in sources
    ]
    expected = [(source["end_line"], json.loads(text)) for source in sources]
    assert [(block.end_line, block.value) for block in blocks] == expected
    assert text == blocks[0].text + "\n"


@needs_docs
def test_manifest_accounts_for_every_block() -> None:
    """Every `{`-starting block of the pages and ```json fence
    of API-FACTS.md is an example or a reasoned skip."""
    missing = [
        f"{block.doc}:{block.line}"
        for doc in extract.DOCUMENTS
        for block in extract.blocks(doc)
        if not extract.accounted(block, MANIFEST)
    ]
    assert missing == []


def test_example_files_are_listed_and_distinct() -> None:
    """The directory holds exactly the manifest's files, and no two of them hold the same JSON."""
    listed = sorted(example["file"] for example in EXAMPLES)
    on_disk = sorted(
        path.name for path in EXAMPLES_DIR.glob("*.json") if path.name != "manifest.json"
    )
    distinct = {json.dumps(read_example(example["file"]), sort_keys=True) for example in EXAMPLES}
    assert (listed, len(distinct)) == (on_disk, len(EXAMPLES))


def expected_naming(example: dict) -> tuple[str, str]:
    """(kind, schema) an example should carry:
    a request names its body's model, a response one of ours."""
    if example["kind"] == "request":
        return "request", f"request-{document_for(example)['model']}"
    return "response", example["schema"] if example[
        "schema"
    ] in RESPONSE_SCHEMAS else "(not a response schema)"


def test_manifest_names_the_right_schema() -> None:
    """A request example names the request schema of the model it sends;
    a response example names a response schema."""
    assert [(e["kind"], e["schema"]) for e in EXAMPLES] == [expected_naming(e) for e in EXAMPLES]


def _without(file: str, *path: str | int) -> dict:
    """The example with the key at `path` removed."""
    body = read_example(file)
    holder, key = parent_of(body, list(path))
    del holder[key]
    return body


def _with(file: str, value: object, *path: str | int) -> dict:
    """The example with the value at `path` replaced."""
    body = read_example(file)
    holder, key = parent_of(body, list(path))
    holder[key] = value
    return body


WRONG_BODIES = {
    "succeeded-results-without-results": (
        "response-task",
        _without("002-task-succeeded-results.json", "output", "results"),
        [("oneOf", [])],
    ),
    "succeeded-messages-without-choices": (
        "response-task",
        _without("001-task-succeeded-messages.json", "output", "choices"),
        [("oneOf", [])],
    ),
    "succeeded-messages-unfinished": (
        "response-task",
        _with("001-task-succeeded-messages.json", False, "output", "finished"),
        [("oneOf", [])],
    ),
    "succeeded-without-usage": (
        "response-task",
        _without("002-task-succeeded-results.json", "usage"),
        [("required", [])],
    ),
    "succeeded-with-every-image-failed": (
        "response-task",
        _with(
            "002-task-partial-failure.json",
            [{"code": "InternalError.Timeout", "message": "timeout"}],
            "output",
            "results",
        ),
        [("oneOf", [])],
    ),
    "unknown-task-status": (
        "response-task",
        _with("facts-task-unknown.json", "DONE", "output", "task_status"),
        [("enum", ["output", "task_status"])],
    ),
    "failed-without-code": (
        "response-task",
        _without("002-task-failed.json", "output", "code"),
        [("required", ["output"])],
    ),
    "task-metrics-missing-failed": (
        "response-task",
        _without("002-task-partial-failure.json", "output", "task_metrics", "FAILED"),
        [("required", ["output", "task_metrics"])],
    ),
    "iso-submit-time": (
        "response-task",
        _with("002-task-succeeded-results.json", "2025-02-21T17:56:31Z", "output", "submit_time"),
        [("pattern", ["output", "submit_time"])],
    ),
    "usage-size-with-x": (
        "response-task",
        _with("001-task-succeeded-messages.json", "2976x1408", "usage", "size"),
        [("pattern", ["usage", "size"])],
    ),
    "image-item-without-url": (
        "response-sync",
        _with(
            "001-sync-success.json",
            [{"type": "image"}],
            "output",
            "choices",
            0,
            "message",
            "content",
        ),
        [("required", ["output", "choices", 0, "message", "content", 0])],
    ),
    "sync-without-finished": (
        "response-sync",
        _without("001-sync-success.json", "output", "finished"),
        [("required", ["output"])],
    ),
    "created-already-running": (
        "response-task-created",
        _with("001-task-created.json", "RUNNING", "output", "task_status"),
        [("enum", ["output", "task_status"])],
    ),
    "error-without-code": (
        "response-error",
        _without("002-error-invalid-api-key.json", "code"),
        [("required", [])],
    ),
    "error-validated-as-cancel": (
        "response-cancel",
        read_example("facts-cancel-error.json"),
        [("not", [])],
    ),
    "list-entry-bad-status": (
        "response-task-list",
        _with("facts-task-list.json", "DONE", "data", 0, "status"),
        [("enum", ["data", 0, "status"])],
    ),
    "policy-overwrite-as-boolean": (
        "response-upload-policy",
        _with("facts-upload-policy.json", True, "data", "x_oss_forbid_overwrite"),
        [("enum", ["data", "x_oss_forbid_overwrite"])],
    ),
}


@pytest.mark.parametrize("schema, body, expected", WRONG_BODIES.values(), ids=WRONG_BODIES.keys())
def test_response_schema_rejects_wrong_body(schema: str, body: dict, expected: list) -> None:
    """A doc example broken in one way fails
    its response schema with exactly the expected errors."""
    assert errors(schema, body) == expected


UNDOCUMENTED_STATES = {
    "running": {
        "request_id": "r",
        "output": {
            "task_id": "t",
            "task_status": "RUNNING",
            "submit_time": "2026-03-26 17:16:01.663",
        },
    },
    "suspended": {"request_id": "r", "output": {"task_id": "t", "task_status": "SUSPENDED"}},
    "canceled": {
        "request_id": "r",
        "output": {
            "task_id": "t",
            "task_status": "CANCELED",
            "submit_time": "2026-03-26 17:16:01.663",
        },
    },
    "failed-messages-style": {
        "request_id": "r",
        "output": {
            "task_id": "t",
            "task_status": "FAILED",
            "code": "DataInspectionFailed",
            "message": "Output data may contain inappropriate content.",
        },
    },
}


@pytest.mark.parametrize("body", UNDOCUMENTED_STATES.values(), ids=UNDOCUMENTED_STATES.keys())
def test_response_task_accepts_states_without_doc_example(body: dict) -> None:
    """Task states the docs show no body for
    validate in the shape API-FACTS.md section 7 suggests."""
    assert errors("response-task", body) == []
