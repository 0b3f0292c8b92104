"""Input that used to answer 500 with a traceback in the log: each now has a 4xx answer."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

import pytest
from emulator_api import ASYNC, GENERATION, KEY, SYNTHESIS, image_urls, wan27, wanx21
from test_emulator_uploads import form, policy
from yarl import URL

from wanform.emulator import EmulatorConfig, start
from wanform.spec.emulator.wire import CLOCK, CLOCK_ADVANCE, FAULTS, REQUESTS

LONG_DIGITS = "9" * 5000


async def raw_request(api, head: bytes, body: bytes = b"") -> bytes:
    """Send bytes aiohttp's client would refuse to build; the raw answer."""
    reader, writer = await asyncio.open_connection(api.client.host, api.client.port)
    writer.write(head + b"\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


async def test_parameter_wanx21_does_not_take_is_invalid_parameter(api) -> None:
    """`size` on wanx2.1-imageedit is refused by name, like any parameter it does not take."""
    status, answer = await api.call("POST", SYNTHESIS, wanx21(size="1*1"), headers=ASYNC)
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert "`size`" in answer["message"]


@pytest.mark.parametrize("name", ["page_no", "page_size"])
@pytest.mark.parametrize(
    "value", ["\N{SUPERSCRIPT TWO}", "\N{ARABIC-INDIC DIGIT ONE}", LONG_DIGITS]
)
async def test_page_numbers_are_ascii_digits_of_bounded_length(api, name: str, value: str) -> None:
    """A page number in other scripts' digits, or 5,000 digits long, is InvalidParameter."""
    status, answer = await api.call("GET", "/api/v1/tasks?" + urlencode({name: value}))
    assert (status, answer["code"]) == (400, "InvalidParameter")


@pytest.mark.parametrize("expires", ["\N{SUPERSCRIPT TWO}", LONG_DIGITS])
async def test_result_expires_is_ascii_digits_of_bounded_length(api, expires: str) -> None:
    """A result link whose Expires is not plain ASCII digits does not match its signature."""
    task_id = await api.submit(wan27())
    await api.advance(600)
    url = URL(image_urls(await api.task(task_id))[0])
    status, text = await api.download(str(url.update_query(Expires=expires)))
    assert (status, b"SignatureDoesNotMatch" in text) == (403, True)


@pytest.mark.parametrize("path", [REQUESTS.encode(), b"/api/v1/tasks"])
async def test_non_ascii_bearer_key_is_not_a_500(api, path: bytes) -> None:
    """A key with bytes that are not UTF-8 is refused or ignored, never a server error."""
    answer = await raw_request(
        api, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-\xff\xfe"
    )
    status = int(answer.split(b" ", 2)[1])
    assert status in (200, 401), answer


async def test_bad_gzip_body_is_illegal_input(api) -> None:
    """A body that says gzip but is not is a 400, not a decompression traceback."""
    status, answer = await api.call(
        "POST",
        GENERATION,
        key=KEY,
        headers={**ASYNC, "Content-Encoding": "gzip", "Content-Type": "application/json"},
        data=b"this is not gzip",
    )
    assert status == 400, answer


async def test_non_ascii_upload_signature_does_not_match(api) -> None:
    """An upload whose Signature is not ASCII is SignatureDoesNotMatch."""
    data = await policy(api)
    fields = form(data, f"{data['upload_dir']}/a.png", b"x", Signature="s\N{EURO SIGN}")
    async with api.client.session.post(data["upload_host"], data=fields) as response:
        assert (response.status, "SignatureDoesNotMatch" in await response.text()) == (403, True)


async def test_control_bytes_in_a_multipart_header_are_malformed(api) -> None:
    """A part header holding control bytes is MalformedPOSTRequest."""
    body = b'--b\r\nContent-Disposition: form-data; name="key\x01\x02"\r\n\r\nv\r\n--b--\r\n'
    head = (
        b"POST /__oss/upload HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: " + str(len(body)).encode()
    )
    answer = await raw_request(api, head, body)
    assert answer.startswith(b"HTTP/1.1 400") and b"MalformedPOSTRequest" in answer, answer


@pytest.mark.parametrize("seconds", [1e308, 10 * 366 * 86400 + 1])
async def test_clock_advance_is_bounded(api, seconds: float) -> None:
    """An advance past ten years is refused, and the clock and request log still answer."""
    status, answer = await api.call("POST", CLOCK_ADVANCE, {"seconds": seconds}, key=None)
    assert (status, answer["code"]) == (400, "InvalidParameter")
    for path in (CLOCK, REQUESTS):
        assert (await api.call("GET", path, key=None))[0] == 200


async def test_clock_advance_by_ten_years_is_accepted(api) -> None:
    """The bound still lets a test jump years ahead."""
    await api.advance(10 * 365 * 86400)
    assert (await api.call("GET", CLOCK, key=None))[0] == 200


@pytest.mark.parametrize("prompt", ["(" * 1000, "x" * 1001])
async def test_unusable_fault_prompt_is_invalid_parameter(api, prompt: str) -> None:
    """A prompt pattern that cannot compile, or is over the length cap, is refused."""
    rule = {"action": "error", "code": "InternalError", "prompt": prompt}
    status, answer = await api.call("POST", FAULTS, rule, key=None)
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert "prompt" in answer["message"]


async def test_catastrophic_fault_prompt_does_not_freeze_the_server(api) -> None:
    """`(a+)+$` against a long run of a's answers within a second."""
    await api.add_fault({"action": "error", "code": "InternalError", "prompt": "(a+)+$"})
    body = wan27(prompt="a" * 40 + "!")
    status, _ = await asyncio.wait_for(api.call("POST", GENERATION, body, headers=ASYNC), 5)
    assert status == 200


async def test_client_gone_mid_body_is_one_line_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that closes before sending its whole body is logged in one line, no traceback."""
    runner, _ = await start(EmulatorConfig(speed=0, port=0))
    head = (
        b"POST "
        + GENERATION.encode()
        + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + KEY.encode()
        + b"\r\nX-DashScope-Async: enable\r\nContent-Type: application/json"
        + b"\r\nContent-Length: 100000\r\n\r\n{"
    )
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", runner.addresses[0][1])
        writer.write(head)
        await writer.drain()
        with caplog.at_level(logging.DEBUG, logger="wanform.emulator"):
            await asyncio.sleep(0.1)  # the handler is reading the body
            writer.close()
            await asyncio.sleep(0.2)
    finally:
        await runner.cleanup()
    records = [r for r in caplog.records if r.name == "wanform.emulator"]
    assert records and all(r.exc_info is None and r.levelno <= logging.INFO for r in records)
