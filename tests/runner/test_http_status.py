"""An error answer whose code the runner does not know is classed by its HTTP status alone."""

from __future__ import annotations

import pytest

from wanform.runner.api.errors import (
    AccountError,
    EndpointError,
    RejectedError,
    ServiceError,
    ThrottledError,
    from_answer,
)

WHERE = "POST http://127.0.0.1/api/v1/services/aigc/image-generation/generation"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, RejectedError),
        (401, AccountError),
        (403, AccountError),
        (404, RejectedError),
        (407, RejectedError),
        (408, ServiceError),
        (409, RejectedError),
        (429, ThrottledError),
        (499, RejectedError),
        (500, ServiceError),
        (502, ServiceError),
    ],
)
def test_an_unknown_code_is_classed_by_its_status(status, cls):
    """A timeout (408) and any 5xx may work later; 401 and 403 stop the run; other 4xx are final."""
    error = from_answer(status, {"code": "Brand.New", "message": "m"}, where=WHERE)
    assert type(error) is cls


def test_a_405_without_an_error_body_is_not_a_dashscope_api():
    """A 405 without a DashScope body, like a 404, means the base URL is wrong: the run stops."""
    assert type(from_answer(405, "<html>Not Allowed</html>", where=WHERE)) is EndpointError
