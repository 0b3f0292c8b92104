"""Choosing the target: the SDK's base-URL rules, URLs, the emulator fallback, and the key kept
out of sight."""

from __future__ import annotations

import pytest

from wanform.runner.api.errors import TargetError
from wanform.runner.api.targets import EMULATOR_KEY, resolve, sdk_base_url

KEY = "sk-real-key-never-shown"


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "https://dashscope.aliyuncs.com/api/v1"),
        (
            {"DASHSCOPE_API_REGION": "cn-beijing", "DASHSCOPE_WORKSPACE_ID": "ws1"},
            "https://dashscope.aliyuncs.com/api/v1",
        ),
        (
            {"DASHSCOPE_API_REGION": "ap-southeast-1", "DASHSCOPE_WORKSPACE_ID": "ws-9"},
            "https://ws-9.ap-southeast-1.maas.aliyuncs.com/api/v1",
        ),
        (
            {"DASHSCOPE_HTTP_BASE_URL": "https://dashscope-intl.aliyuncs.com/api/v1/"},
            "https://dashscope-intl.aliyuncs.com/api/v1",
        ),
        (
            {
                "DASHSCOPE_HTTP_BASE_URL": (
                    "https://{workspace_id}.eu-central-1.maas.aliyuncs.com/api/v1"
                ),
                "DASHSCOPE_WORKSPACE_ID": "w",
            },
            "https://w.eu-central-1.maas.aliyuncs.com/api/v1",
        ),
    ],
)
def test_base_url_is_resolved_as_the_sdk_does(env, url):
    """DASHSCOPE_HTTP_BASE_URL wins, then a MaaS region's workspace host, then the Beijing host."""
    assert sdk_base_url(env) == url


def test_a_maas_region_without_a_workspace_is_refused():
    """The workspace host cannot be built without DASHSCOPE_WORKSPACE_ID."""
    with pytest.raises(TargetError, match="set DASHSCOPE_WORKSPACE_ID"):
        sdk_base_url({"DASHSCOPE_API_REGION": "us-east-1"})


def test_the_key_chooses_dashscope_and_its_absence_the_emulator():
    """Without --target: the real API when a key is set, else the embedded emulator and its key."""
    real = resolve(None, {"DASHSCOPE_API_KEY": KEY})
    assert (real.name, real.base_url, real.embedded) == (
        "dashscope",
        "https://dashscope.aliyuncs.com/api/v1",
        False,
    )
    local = resolve(None, {})
    assert (local.name, local.api_key, local.embedded, local.identity) == (
        "emulator",
        EMULATOR_KEY,
        True,
        "emulator",
    )


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/api/v1"),
        ("http://localhost:8000/api/v1/", "http://localhost:8000/api/v1"),
    ],
)
def test_a_url_target_is_a_base_url(given, base):
    """A bare host gets /api/v1; a trailing slash goes."""
    target = resolve(given, {"DASHSCOPE_API_KEY": KEY})
    assert (target.base_url, target.api_key, target.loopback) == (base, KEY, True)


@pytest.mark.parametrize(
    "given",
    [
        "ftp://x/api/v1",
        "not a url",
        "http://:80/api/v1",
        "http://h:99999/api/v1",
        "http://h/api/v1?key=1",
    ],
)
def test_a_bad_target_is_one_clear_error(given):
    """Anything but emulator, dashscope or an http(s) base URL is refused with one clear error."""
    with pytest.raises(TargetError, match="--target"):
        resolve(given, {})


def test_dashscope_without_a_key_is_refused():
    """--target dashscope needs a key."""
    with pytest.raises(TargetError, match="needs DASHSCOPE_API_KEY"):
        resolve("dashscope", {})


def test_the_key_is_not_in_the_targets_repr_or_description():
    """Printing a target (or logging it) never shows the key."""
    target = resolve(None, {"DASHSCOPE_API_KEY": KEY})
    assert KEY not in repr(target) + target.describe() + target.identity


@pytest.mark.parametrize(
    ("choice", "env"),
    [
        (None, {"DASHSCOPE_API_KEY": KEY, "DASHSCOPE_HTTP_BASE_URL": "http://u:hunter2@h/api/v1"}),
        ("dashscope", {"DASHSCOPE_API_KEY": KEY, "DASHSCOPE_HTTP_BASE_URL": "http://hunter2@h"}),
        ("http://u:hunter2@127.0.0.1:8000/api/v1", {}),
        ("https://:hunter2@example.com", {}),
    ],
)
def test_a_base_url_with_credentials_is_refused_without_echoing_them(choice, env):
    """A base URL with user:password@ is refused by a message that does not contain the secret."""
    with pytest.raises(TargetError, match="must not carry credentials") as caught:
        resolve(choice, env)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("choice", "env", "made_on"),
    [
        (None, {}, "emulator"),
        ("emulator", {"DASHSCOPE_API_KEY": KEY}, "emulator"),
        (None, {"DASHSCOPE_API_KEY": KEY}, "dashscope:cn-beijing"),
        (
            "dashscope",
            {"DASHSCOPE_API_REGION": "ap-southeast-1", "DASHSCOPE_WORKSPACE_ID": "ws-9"},
            "dashscope:ap-southeast-1",
        ),
        (
            "dashscope",
            {"DASHSCOPE_HTTP_BASE_URL": "https://dashscope-intl.aliyuncs.com/api/v1"},
            "dashscope:ap-southeast-1",
        ),
        ("https://dashscope.aliyuncs.com/api/v1", {}, "dashscope:cn-beijing"),
        ("http://127.0.0.1:8000", {}, "http://127.0.0.1:8000/api/v1"),
    ],
)
def test_a_target_says_what_it_is_made_on_without_key_or_workspace(choice, env, made_on):
    """The lock's record of a target: the embedded emulator, DashScope by the region its host
    serves (never the workspace id), or any other base URL; a plan's target needs no key."""
    target = resolve(choice, env, sending=False)
    assert target.made_on == made_on
    assert KEY not in target.made_on and "ws-9" not in target.made_on
