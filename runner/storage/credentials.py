"""The store's credentials, only from the standard places: `AWS_ACCESS_KEY_ID` with
`AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), else `AWS_PROFILE`'s section of the shared
credentials file, else the instance's or container's role, which the client asks for itself.
They are handed to the client and never kept, written or printed."""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

from wanform.runner.storage.errors import StoreAccess

ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "access_key_id",
    "AWS_SECRET_ACCESS_KEY": "secret_access_key",
    "AWS_SESSION_TOKEN": "token",
}
PROFILE_KEYS = {
    "aws_access_key_id": "access_key_id",
    "aws_secret_access_key": "secret_access_key",
    "aws_session_token": "token",
}


def credentials(env: Mapping[str, str]) -> dict[str, str]:
    """The client's credential settings; empty when the role is to be asked for."""
    if env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_SECRET_ACCESS_KEY"):
        return {name: env[var] for var, name in ENVIRONMENT.items() if env.get(var)}
    return _profile(env)


def _profile(env: Mapping[str, str]) -> dict[str, str]:
    """The keys of AWS_PROFILE (default: `default`) in the shared credentials file; StoreAccess
    when AWS_PROFILE names a section the file lacks."""
    name = env.get("AWS_PROFILE") or "default"
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    path = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        parser = configparser.ConfigParser(interpolation=None)
    if not parser.has_section(name):
        if env.get("AWS_PROFILE"):
            raise StoreAccess(f"AWS_PROFILE={name}: {path} has no section [{name}]")
        return {}
    section = parser[name]
    return {ours: section[theirs] for theirs, ours in PROFILE_KEYS.items() if section.get(theirs)}
