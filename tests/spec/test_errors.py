"""The error catalogue in spec/errors.py: lookups,
the status fallback, and where facts come from."""

from __future__ import annotations

import pytest

from wanform.spec.errors import CATALOGUE, kind_of_status, lookup


def test_a_subcode_is_looked_up_by_its_family():
    """An undocumented `InternalError.Something` is an InternalError."""
    assert lookup("InternalError.Something") is CATALOGUE["InternalError"]


def test_an_unknown_code_is_not_looked_up():
    """A code of no documented family is left to the status fallback."""
    assert lookup("Brand.New") is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "throttled"), (500, "service"), (408, "service"), (401, "account"), (400, "rejected")],
)
def test_undocumented_codes_are_judged_by_status(status, kind):
    """429 is throttling, 5xx and 408 are the service's,
    401/403 the account's, the rest rejections."""
    assert kind_of_status(status) == kind


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_names_its_source_and_an_error_status(code):
    """Each entry says where it is documented and comes with a 4xx or 5xx status."""
    entry = CATALOGUE[code]
    assert entry.source and 400 <= entry.status <= 599 and entry.code == code
