"""Accounts: the API key is the account. Authentication answers exactly as DashScope does."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from wanform.emulator.errors import ErrorReply
from wanform.spec.errors import INVALID_API_KEY, NO_API_KEY

KEY_PREFIX = "sk-"


def key_id(key: str) -> str:
    """A short stable id for a key (12 hex digits of its sha256), shown in its place in logs."""
    # surrogateescape: a header's bytes that are not UTF-8 reach us as lone surrogates
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:12]


@dataclass(frozen=True)
class Account:
    """One caller. `key` never leaves the emulator; `key_id` and `uid` stand for it outside."""

    key: str
    key_id: str
    uid: str  # numeric, like DashScope's caller_uid


def _account(key: str) -> Account:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return Account(key, digest[:12], str(int(digest[12:26], 16) % 10**16).zfill(16))


class Accounts:
    """Who may call: any `sk-` key, or only the configured keys."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self._allowed = frozenset(allowed)

    def authenticate(self, authorization: str) -> Account:
        """The account of an `Authorization: Bearer <key>` header value, or 401 InvalidApiKey."""
        return _authorized(authorization, self._allowed)


@functools.lru_cache(maxsize=1024)  # the same few headers call again and again; refusals raise
def _authorized(authorization: str, allowed: frozenset[str]) -> Account:
    header = authorization.strip()
    if not header:
        raise ErrorReply(401, "InvalidApiKey", NO_API_KEY)
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() == "bearer" and not key:
        raise ErrorReply(401, "InvalidApiKey", NO_API_KEY)
    if scheme.lower() != "bearer" or not _acceptable(key, allowed):
        raise ErrorReply(401, "InvalidApiKey", INVALID_API_KEY)
    return _account(key)


def _acceptable(key: str, allowed: frozenset[str]) -> bool:
    if allowed:
        return key in allowed
    return (
        key.startswith(KEY_PREFIX)
        and len(key) > len(KEY_PREFIX)
        and key.isprintable()
        and " " not in key
    )
