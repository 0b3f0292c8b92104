"""Where requests go: the real DashScope (its base URL resolved as the official SDK does), a URL,
or the embedded emulator.

The API key is held here and handed only to the HTTP client's Authorization header; a Target's repr
and every string it produces leave it out.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from wanform.runner.api.errors import TargetError, safe_url
from wanform.spec.models import (
    BEIJING_BASE_URL,
    REGION_NAMES,
    WORKSPACE_BASE_URL,
    WORKSPACE_REGIONS,
)

LOCAL_EMULATOR_URL = "http://127.0.0.1:8000/api/v1"  # where `wanform emulator` listens by default
WORKSPACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
EMULATOR_KEY = "sk-wanform-emulator"  # any `sk-` key is an account on the emulator
API_SUFFIX = "/api/v1"
DASHSCOPE = "dashscope"
DASHSCOPE_DOMAIN = ".aliyuncs.com"
# hosts named for their region rather than by a workspace (`dashscope.aliyuncs.com` is Beijing)
REGION_HOSTS = {"dashscope-intl": "ap-southeast-1", "dashscope-us": "us-east-1"}


@dataclass(frozen=True)
class Target:
    """A resolved target: its name for people, its base URL (empty until the embedded emulator
    starts), and the key (never shown)."""

    name: str  # "dashscope", "emulator" or "url"
    base_url: str
    api_key: str = field(repr=False)
    embedded: bool = False  # the runner must start the emulator itself and fill in base_url

    @property
    def loopback(self) -> bool:
        host = urlsplit(self.base_url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def identity(self) -> str:
        """What a job's journal key records of the target: the embedded emulator is one target
        whatever its port."""
        return "emulator" if self.embedded else safe_url(self.base_url)

    @property
    def made_on(self) -> str:
        """What a lock entry records of the target its images were made on, part of the job's
        identity: `emulator` (the embedded one), `dashscope:REGION` (any DashScope host, by the
        region it serves; never the workspace), or any other base URL."""
        if self.embedded:
            return "emulator"
        region = dashscope_region(self.base_url)
        return f"{DASHSCOPE}:{region}" if region else safe_url(self.base_url)

    def describe(self) -> str:
        return f"{self.name} {safe_url(self.base_url)}" if self.base_url else self.name

    def with_base_url(self, base_url: str) -> Target:
        return Target(self.name, base_url, self.api_key, self.embedded)


def made_on_words(made_on: str) -> str:
    """`Target.made_on` for people: `emulator`, `DashScope Beijing`, or the URL itself."""
    kind, _, region = made_on.partition(":")
    if kind == DASHSCOPE and region:
        return f"DashScope {REGION_NAMES.get(region, region)}"
    return {DASHSCOPE: "DashScope", "url": "a URL"}.get(made_on, made_on)


def dashscope_region(base_url: str) -> str | None:
    """The region a DashScope base URL serves (its host says so), or None for any other host."""
    host = urlsplit(base_url).hostname or ""
    if not host.endswith(DASHSCOPE_DOMAIN):
        return None
    if ".maas." in host:
        return host.split(".")[1]
    return REGION_HOSTS.get(host.split(".")[0], "cn-beijing")


def sdk_base_url(env: Mapping[str, str]) -> str:
    """The HTTP base URL the official SDK would use with this environment: DASHSCOPE_HTTP_BASE_URL,
    else the workspace host in a MAAS region (page 004's ap-southeast-1 example), else the
    Beijing host of page 000."""
    region = env.get("DASHSCOPE_API_REGION", "cn-beijing")
    version = env.get("DASHSCOPE_API_VERSION", "v1")
    workspace = env.get("DASHSCOPE_WORKSPACE_ID", "")
    if region in WORKSPACE_REGIONS:
        default = WORKSPACE_BASE_URL.format(
            workspace_id="{workspace_id}", region=region, version=version
        )
    else:
        default = BEIJING_BASE_URL.format(version=version)
    url = env.get("DASHSCOPE_HTTP_BASE_URL") or default
    _refuse_credentials("DASHSCOPE_HTTP_BASE_URL", url)
    if "{workspace_id}" not in url:
        return url.rstrip("/")
    if not workspace:
        raise TargetError(
            f"the base URL {url} needs a workspace: set DASHSCOPE_WORKSPACE_ID "
            f"(region {region} uses the workspace host)"
        )
    if not WORKSPACE_PATTERN.match(workspace):
        raise TargetError(
            f"DASHSCOPE_WORKSPACE_ID {workspace!r} is not a workspace id "
            "(letters, digits, _ and -, at most 64)"
        )
    return url.replace("{workspace_id}", workspace).rstrip("/")


def _refuse_credentials(source: str, url: str) -> None:
    """Refuse a URL with `user:password@` before it is shown anywhere; the message leaves it out."""
    if "@" in urlsplit(url).netloc:
        raise TargetError(
            f"{source} must not carry credentials (user:password@host); "
            "the API key goes in DASHSCOPE_API_KEY"
        )


def check_url(url: str) -> str:
    """A target URL as a base URL: http(s) with a host; a bare `http://host:port` gets `/api/v1`."""
    _refuse_credentials("--target", url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(
            f"--target {safe_url(url)!r} is not emulator, dashscope or an http(s) URL "
            "such as http://127.0.0.1:8000/api/v1"
        )
    try:
        _ = parts.port  # urllib checks the port only when it is read
    except ValueError:
        raise TargetError(f"--target {safe_url(url)!r} has an invalid port") from None
    if parts.query or parts.fragment:
        raise TargetError("--target must not carry a query string or fragment")
    base = url.rstrip("/")
    return base if parts.path.strip("/") else base + API_SUFFIX


def resolve(choice: str | None, env: Mapping[str, str], sending: bool = True) -> Target:
    """The target named by `--target` (or chosen from the environment when it is None); one
    that nothing will be sent to (`plan`) needs no key."""
    key = env.get("DASHSCOPE_API_KEY", "").strip()
    if choice is None:
        choice = DASHSCOPE if key else "emulator"
    if choice == "emulator":
        return Target("emulator", "", EMULATOR_KEY, embedded=True)
    if choice == DASHSCOPE:
        if not key and sending:
            raise TargetError("--target dashscope needs DASHSCOPE_API_KEY in the environment")
        return Target(DASHSCOPE, sdk_base_url(env), key)
    return Target("url", check_url(choice), key or EMULATOR_KEY)
