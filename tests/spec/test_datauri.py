"""The one data-URI parser: what it splits, what it decodes, and what it refuses."""

from __future__ import annotations

import pytest

from wanform.spec import datauri


def test_a_uri_is_split_at_its_first_comma():
    """Head, MIME type, parameters and payload come apart where the documented shape says."""
    uri = datauri.parse("data:image/PNG;base64,QUJD,x")
    assert uri == datauri.DataUri("data:image/PNG;base64,", "image/PNG", ";base64", "QUJD,x")


@pytest.mark.parametrize("text", ["https://x/a.png", "data:image/png;base64", "oss://a"])
def test_text_without_the_scheme_or_a_comma_is_not_a_data_uri(text):
    """No `data:` prefix, or no comma after it, is not a data URI."""
    assert datauri.parse(text) is None


def test_decode_lowercases_the_mime_type_and_reads_the_bytes():
    """A well-formed base64 URI gives its MIME type in lower case and its bytes."""
    assert datauri.decode("DATA:Image/PNG;charset=x;base64,QUJD") == ("image/png", b"ABC")


@pytest.mark.parametrize(
    "text",
    ["data:image/png,QUJD", "data:not a type;base64,QUJD", "data:image/png;base64,QUJ!"],
)
def test_decode_refuses_what_the_service_would(text):
    """Without `;base64`, with a malformed MIME type or malformed base64, decoding fails."""
    with pytest.raises(ValueError):
        datauri.decode(text)


def test_the_decoded_size_is_computed_without_decoding():
    """Padding is accounted for: 'QUI=' holds two bytes."""
    assert datauri.decoded_size("data:image/png;base64,QUI=") == 2
