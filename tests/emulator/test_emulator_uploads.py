"""The temporary-upload flow: getPolicy, the form upload it points to, and `oss://` inputs."""

from __future__ import annotations

import aiohttp
import pytest
from emulator_api import (
    ASYNC,
    GENERATION,
    KEY,
    OTHER_KEY,
    SYNTHESIS,
    assert_schema,
    png,
    wan25,
    wan27,
)

OSS_RESOLVE = {"X-DashScope-OssResourceResolve": "enable"}
BAD_URL = "The provided URL does not appear to be valid. Ensure it is correctly formatted."


async def policy(api, key: str = KEY, model: str = "wan2.7-image") -> dict:
    status, answer = await api.call(
        "GET", f"/api/v1/uploads?action=getPolicy&model={model}", key=key
    )
    assert status == 200, answer
    return answer["data"]


def form(data: dict, key: str, content: bytes, **overrides: str) -> aiohttp.FormData:
    """The fields the official SDK sends, in its order."""
    fields = {
        "OSSAccessKeyId": data["oss_access_key_id"],
        "Signature": data["signature"],
        "policy": data["policy"],
        "key": key,
        "x-oss-object-acl": data["x_oss_object_acl"],
        "x-oss-forbid-overwrite": data["x_oss_forbid_overwrite"],
        "success_action_status": "200",
        "x-oss-content-type": "image/png",
        **overrides,
    }
    out = aiohttp.FormData()
    for name, value in fields.items():
        out.add_field(name, value)
    out.add_field("file", content, filename="car.png", content_type="image/png")
    return out


async def upload(
    api, data: dict, name: str = "car.png", content: bytes | None = None, **overrides: str
) -> tuple[int, str]:
    key = f"{data['upload_dir']}/{name}"
    async with api.client.session.post(
        data["upload_host"], data=form(data, key, content or png(800, 400), **overrides)
    ) as r:
        return r.status, await r.text()


async def test_policy_points_at_the_emulator(api):
    """getPolicy answers the documented body, with upload_host on this emulator."""
    status, answer = await api.call("GET", "/api/v1/uploads?action=getPolicy&model=wan2.7-image")
    assert status == 200
    assert_schema("response-upload-policy", answer)
    data = answer["data"]
    assert data["upload_host"] == str(api.client.make_url("/__oss/upload"))
    assert (
        data["expire_in_seconds"],
        data["max_file_size_mb"],
        data["x_oss_forbid_overwrite"],
    ) == (300, 100, "true")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=getPolicy", (400, "BadRequest.EmptyModel")),
        ("action=getPolicy&model=nope", (400, "InvalidParameter")),
        ("action=other&model=wan2.7-image", (400, "InvalidParameter")),
    ],
)
async def test_policy_refusals(api, query, expected):
    """getPolicy needs the getPolicy action and a known model."""
    status, answer = await api.call("GET", f"/api/v1/uploads?{query}")
    assert (status, answer["code"]) == expected


async def test_uploaded_file_is_an_input_with_the_resolve_header(api):
    """An uploaded file read as oss://key sets the output's aspect ratio, from its own size."""
    data = await policy(api)
    assert await upload(api, data) == (200, "")
    body = wan27(images=(f"oss://{data['upload_dir']}/car.png",), size="1K")
    task_id = await api.submit(body, headers=OSS_RESOLVE)
    await api.advance(31)
    width, height = map(int, (await api.task(task_id))["usage"]["size"].split("*"))
    assert 1.95 < width / height < 2.05


async def test_oss_reference_without_the_resolve_header_is_refused(api):
    """Without X-DashScope-OssResourceResolve: enable, an oss:// URL is not a valid URL."""
    data = await policy(api)
    await upload(api, data)
    status, answer = await api.call(
        "POST", SYNTHESIS, wan25(images=(f"oss://{data['upload_dir']}/car.png",)), headers=ASYNC
    )
    assert (status, answer["code"], answer["message"]) == (400, "InvalidParameter", BAD_URL)


async def test_another_accounts_upload_cannot_be_read(api):
    """An upload belongs to the account that asked for the policy; others cannot download it."""
    data = await policy(api, key=OTHER_KEY)
    await upload(api, data)
    status, answer = await api.call(
        "POST",
        GENERATION,
        wan27(images=(f"oss://{data['upload_dir']}/car.png",)),
        headers={**ASYNC, **OSS_RESOLVE},
    )
    assert (status, answer["code"], answer["message"]) == (
        400,
        "InvalidParameter",
        "Failed to download multimodal content.",
    )


async def test_uploads_expire_after_48_hours(api):
    """An upload older than 48 virtual hours can no longer be read."""
    data = await policy(api)
    await upload(api, data)
    await api.advance(48 * 3600)
    status, answer = await api.call(
        "POST",
        GENERATION,
        wan27(images=(f"oss://{data['upload_dir']}/car.png",)),
        headers={**ASYNC, **OSS_RESOLVE},
    )
    assert (status, answer["message"]) == (400, "Failed to download multimodal content.")


async def test_expired_policy_is_refused_like_oss(api):
    """A form upload after the policy's 300 s is 403 AccessDenied "Policy expired." in OSS XML."""
    data = await policy(api)
    await api.advance(300)
    status, text = await upload(api, data)
    assert status == 403
    assert (
        "<Code>AccessDenied</Code>" in text
        and "<Message>Invalid according to Policy: Policy expired.</Message>" in text
    )


async def test_form_upload_refusals(api):
    """A wrong signature, a key outside upload_dir, an overwrite, a non-form body: each refused."""
    data = await policy(api)
    assert (await upload(api, data, Signature="forged"))[0] == 403
    outside = await api.client.session.post(
        data["upload_host"], data=form(data, "dashscope-instant/elsewhere/x.png", png(10, 10))
    )
    assert outside.status == 403 and "starts-with" in await outside.text()
    assert (await upload(api, data))[0] == 200
    status, text = await upload(api, data)
    assert status == 409 and "FileAlreadyExists" in text
    plain = await api.client.session.post(data["upload_host"], data=b"not a form")
    assert plain.status == 400 and "MalformedPOSTRequest" in await plain.text()


async def test_upload_request_log_entry_names_the_account(api):
    """The form upload is logged under the account that owns the policy."""
    data = await policy(api)
    await upload(api, data)
    entries = await api.requests(key=KEY)
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/api/v1/uploads", 200),
        ("POST", "/__oss/upload", 200),
    ]
