"""What provenance keeps of a request's headers: never one that carries a credential."""

from __future__ import annotations

from wanform.runner.engine.outputs import safe_headers


def test_credential_headers_are_dropped_whatever_their_case():
    """Authorization, Cookie and X-API-Key go, in any spelling; DashScope's own headers stay."""
    headers = {
        "Authorization": "Bearer sk-secret",
        "cookie": "session=1",
        "X-Api-Key": "sk-secret",
        "X-DashScope-Async": "enable",
    }
    assert safe_headers(headers) == {"X-DashScope-Async": "enable"}
