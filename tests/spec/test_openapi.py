"""spec/openapi.yaml describes the emulator that exists:
its routes, the JSON Schemas beside it, and valid OpenAPI 3.1."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from wanform.emulator import EmulatorConfig, create_app
from wanform.emulator.http.dashscope import API, STATUSES, SUBMIT_ROUTES
from wanform.emulator.state.clock import MAX_ADVANCE_SECONDS
from wanform.spec.emulator.wire import CLOCK_ADVANCE, FAULT_HEADER
from wanform.spec.models import MODELS

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
OPENAPI = SPEC_DIR / "openapi.yaml"
SCHEMAS = SPEC_DIR / "schemas"
DOC = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SUBMISSIONS = [API + path for path in SUBMIT_ROUTES]


def refs(node: object) -> list[str]:
    """Every `$ref` value in a document, in document order."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in refs(item)]
    return []


def schema_files(node: object) -> list[Path]:
    """The files that the refs to other documents name,
    resolved against spec/ (where openapi.yaml lives)."""
    return [
        (SPEC_DIR / ref.partition("#")[0]).resolve()
        for ref in refs(node)
        if not ref.startswith("#")
    ]


def resolve(ref: str) -> dict:
    """The node a same-document JSON pointer (`#/...`) names."""
    node: object = DOC
    for key in ref.removeprefix("#/").split("/"):
        # a JSON document: each step is a mapping, which the walk does not narrow
        node = node[key.replace("~1", "/").replace("~0", "~")]  # type: ignore[index]
    return node  # type: ignore[return-value]  # the pointers used here all name objects


def deref(node: dict) -> dict:
    """`node`, or what its same-document `$ref` points at."""
    ref = node.get("$ref", "")
    return resolve(ref) if ref.startswith("#/") else node


def documented_routes() -> set[tuple[str, str]]:
    """(method, path) of every operation in the document."""
    return {
        (method.upper(), path)
        for path, item in DOC["paths"].items()
        for method in item
        if method in METHODS
    }


def emulator_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the app registers,
    with aiohttp's `{name:regex}` as OpenAPI's `{name}`."""
    app = create_app(EmulatorConfig())
    routes = {
        (r.method, re.sub(r"\{(\w+)(?::[^}]*)?\}", r"{\1}", r.resource.canonical))
        for r in app.router.routes()
    }
    # aiohttp adds HEAD beside every GET (allow_head); those are not routes the emulator chose.
    return {
        (method, path)
        for method, path in routes
        if not (method == "HEAD" and ("GET", path) in routes)
    }


def test_document_is_openapi_3_1():
    """The file parses as YAML into a mapping that declares OpenAPI 3.1.x."""
    assert isinstance(DOC, dict)
    assert re.fullmatch(r"3\.1\.\d+", str(DOC["openapi"]))


def test_schema_refs_name_existing_files():
    """Every `$ref` to another document names an existing file in spec/schemas."""
    named = schema_files(DOC)
    assert named, "the document references no schema file"
    outside = sorted({str(path) for path in named if path.parent != SCHEMAS})
    missing = sorted({path.name for path in named if not path.is_file()})
    assert (outside, missing) == ([], [])


def test_every_request_and_response_schema_is_referenced():
    """Each request-*.schema.json and response-*.schema.json in
    spec/schemas is used at least once."""
    published = {
        p.name
        for pattern in ("request-*.schema.json", "response-*.schema.json")
        for p in SCHEMAS.glob(pattern)
    }
    assert published, "spec/schemas has no request or response schemas"
    assert sorted(published - {path.name for path in schema_files(DOC)}) == []


def test_paths_equal_the_emulator_routes():
    """The (method, path) pairs of the document are exactly the routes create_app registers."""
    documented, registered = documented_routes(), emulator_routes()
    assert sorted(documented - registered) == [], "documented but not served"
    assert sorted(registered - documented) == [], "served but not documented"


def test_submission_bodies_offer_the_models_served_there():
    """Each submission path's request body is a oneOf over
    exactly the models whose sync or async path it is."""
    for path in SUBMISSIONS:
        body = deref(DOC["paths"][path]["post"]["requestBody"])
        choices = body["content"]["application/json"]["schema"]["oneOf"]
        served = {
            f"request-{name}.schema.json"
            for name, spec in MODELS.items()
            if path.removeprefix(API) in (spec.sync_path, spec.async_path)
        }
        assert sorted(file.name for file in schema_files(choices)) == sorted(served), path


def test_repeated_constants_match_the_emulator():
    """The fault header (on every DashScope API route), the list's status values and the upload
    models are the emulator's own."""
    api_operations = [
        (path, op)
        for path, item in DOC["paths"].items()
        if path.startswith(API)
        for method, op in item.items()
        if method in METHODS
    ]
    assert len(api_operations) == 10
    for path, operation in api_operations:
        headers = {p["name"] for p in map(deref, operation["parameters"]) if p["in"] == "header"}
        assert FAULT_HEADER in headers, path
    assert resolve("#/components/parameters/Status")["schema"]["enum"] == list(STATUSES)
    upload = {p["name"]: p for p in map(deref, DOC["paths"][API + "/uploads"]["get"]["parameters"])}
    assert upload["model"]["schema"]["enum"] == list(MODELS)


def test_openapi_spec_validator_accepts_the_document():
    """openapi-spec-validator finds the document valid, resolving its relative file refs."""
    spec, base_uri = read_from_filename(str(OPENAPI))
    validate(spec, base_uri=base_uri)


def test_fault_rules_are_the_scenario_schemas():
    """The rule format of the admin API and the header is faults.schema.json, not a copy."""
    rule = DOC["components"]["schemas"]["FaultRule"]
    assert rule["$ref"] == "schemas/faults.schema.json#/definitions/rule"
    fault = DOC["components"]["parameters"]["Fault"]
    assert "schemas/faults.schema.json" in fault["description"]
    # the header's value is JSON of one rule or a list of them, so generators send real rules
    assert refs(fault["content"]["application/json"]) == ["#/components/schemas/FaultRule"] * 2


def concrete(path: str) -> str:
    """A documented path with each `{name}` filled in, so it reaches its route."""
    return re.sub(r"\{\w+\}", "x", path)


async def test_an_undocumented_method_gets_405_with_allow(aiohttp_client):
    """Each documented path answers PUT (which no path documents) with 405 and an Allow header
    naming its documented methods (and HEAD beside GET)."""
    client = await aiohttp_client(create_app(EmulatorConfig()))
    for path, item in DOC["paths"].items():
        documented = {method.upper() for method in item if method in METHODS}
        assert "PUT" not in documented, path
        response = await client.put(concrete(path))
        allowed = set(response.headers.get("Allow", "").split(","))
        assert response.status == 405, path
        assert allowed == documented | ({"HEAD"} if "GET" in documented else set()), path


async def test_a_form_part_with_a_forbidden_header_is_malformed(aiohttp_client):
    """A form part whose header line holds a control character is 400 MalformedPOSTRequest."""
    client = await aiohttp_client(create_app(EmulatorConfig()))
    body = b'--b\r\nContent-Disposition: form-data; name="\x14"\r\n\r\nv\r\n--b--\r\n'
    response = await client.post(
        "/__oss/upload", data=body, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert response.status == 400
    assert response.content_type == "application/xml"
    assert "<Code>MalformedPOSTRequest</Code>" in await response.text()


def test_the_clock_advance_bound_is_the_emulators():
    """The document's largest clock advance is the one the emulator's clock accepts."""
    body = DOC["paths"][CLOCK_ADVANCE]["post"]["requestBody"]
    seconds = body["content"]["application/json"]["schema"]["properties"]["seconds"]
    assert seconds["maximum"] == MAX_ADVANCE_SECONDS
