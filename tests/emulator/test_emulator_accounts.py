"""Authentication and accounts: DashScope's 401s, restricted keys, accounts kept apart."""

from __future__ import annotations

import re

import pytest
from emulator_api import ASYNC, GENERATION, KEY, OTHER_KEY, SYNC, wan27

from wanform.emulator.state.accounts import key_id

NO_KEY = (401, "InvalidApiKey", "No API-key provided.")
BAD_KEY = (401, "InvalidApiKey", "Invalid API-key provided.")


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, NO_KEY),
        ("Bearer ", NO_KEY),
        ("Bearer pk-123", BAD_KEY),
        ("Basic sk-123", BAD_KEY),
        ("sk-123", BAD_KEY),
        ("Bearer sk-", BAD_KEY),
    ],
    ids=["missing", "empty", "not-sk", "not-bearer", "no-scheme", "prefix-only"],
)
@pytest.mark.parametrize(
    "method_path",
    [
        ("POST", GENERATION),
        ("GET", "/api/v1/tasks/x"),
        ("GET", "/api/v1/tasks"),
        ("POST", "/api/v1/tasks/x/cancel"),
        ("GET", "/api/v1/uploads"),
    ],
)
async def test_bad_authorization_is_401(api, authorization, expected, method_path):
    """Every API endpoint answers a missing or malformed key with DashScope's 401 InvalidApiKey."""
    headers = {**ASYNC, **({"Authorization": authorization} if authorization is not None else {})}
    status, answer = await api.call(*method_path, wan27(), key=None, headers=headers)
    assert (status, answer["code"], answer["message"]) == expected


async def test_any_sk_key_is_an_account_by_default(api):
    """Without a configured key list, any `sk-` key is accepted."""
    status, _ = await api.call("POST", GENERATION, wan27(), key="sk-anything-at-all", headers=ASYNC)
    assert status == 200


async def test_configured_keys_restrict_access(make_api):
    """With api_keys set, only those keys are accounts; others are invalid."""
    api = await make_api(api_keys=(KEY,))
    allowed, _ = await api.call("POST", GENERATION, wan27(), key=KEY, headers=ASYNC)
    refused, answer = await api.call("POST", GENERATION, wan27(), key=OTHER_KEY, headers=ASYNC)
    assert (allowed, refused, answer["message"]) == (200, 401, "Invalid API-key provided.")


async def test_one_account_never_sees_anothers_tasks(api):
    """Another account's task id reads UNKNOWN, cannot be canceled, and is not listed."""
    task_id = await api.submit(wan27(), key=KEY)
    assert await api.status(task_id, key=OTHER_KEY) == "UNKNOWN"
    status, answer = await api.call("POST", f"/api/v1/tasks/{task_id}/cancel", key=OTHER_KEY)
    assert (status, answer["code"]) == (400, "UnsupportedOperation")
    _, listed = await api.call("GET", "/api/v1/tasks", key=OTHER_KEY)
    assert (listed["total"], listed["data"]) == (0, [])
    assert await api.status(task_id, key=KEY) == "PENDING"


async def test_request_log_is_kept_per_account_without_the_key(api):
    """The request log names accounts by a short key id, never the key, and can be read per
    account."""
    first = await api.submit(wan27(), key=KEY)
    await api.submit(wan27(), key=OTHER_KEY)
    entries = await api.requests(key=KEY)
    assert [(e["account"], e["task_id"], e["status"]) for e in entries] == [
        (key_id(KEY), first, 200)
    ]
    everything = await api.requests()
    assert [e["account"] for e in everything] == [key_id(KEY), key_id(OTHER_KEY)]
    assert KEY not in str(everything)


async def test_request_log_records_refusals_with_their_code(api):
    """A refused request is logged with status and code; an unauthenticated one, no account."""
    await api.call("POST", SYNC, wan27(), key=KEY, headers=ASYNC)
    await api.call("POST", SYNC, wan27(), key=None)
    entries = await api.requests()
    assert [(e["account"], e["model"], e["status"], e["code"]) for e in entries] == [
        (key_id(KEY), None, 403, "AccessDenied"),
        (None, None, 401, "InvalidApiKey"),
    ]


def test_key_id_is_a_short_digest():
    """The key id is 12 hex digits and differs between keys."""
    assert re.fullmatch("[0-9a-f]{12}", key_id(KEY))
    assert key_id(KEY) != key_id(OTHER_KEY)
