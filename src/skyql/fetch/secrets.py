"""Which request fields hold secrets (passwords, keys, secret payloads), and bodies with them masked.

Google's discovery documents do not mark sensitive fields, so they are known by name: what a log line, a
--dryrun row or an error message shows of a request goes through `masked` first. The request sent is untouched.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[redacted]"

# Matched against a field name lower-cased without `_` and `-`: rootPassword, client_secret, privateKeyData...
_SECRET_PART = re.compile(r"password|passwd|passphrase|secret|privatekey|apikey|plaintext")
_SECRET_NAME = frozenset({"keystring", "rawkey", "rsaencryptedkey", "psk", "presharedkey", "pin"})
# Tokens are secrets, except the ones that only point to a page or a position in a stream.
_TOKEN_NOT_SECRET = re.compile(r"page|sync|resume|continuation|change|cursor")
# Query parameters Google reads credentials from.
_SECRET_QUERY = frozenset({"key", "accesstoken", "oauthtoken"})


def _normal(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def is_secret(name: str, parent: str | None = None) -> bool:
    """Whether a body field called `name` (inside an object that is field `parent`) holds a secret."""
    key = _normal(name)
    if _SECRET_PART.search(key) or key in _SECRET_NAME:
        return True
    if key.endswith("token") and not _TOKEN_NOT_SECRET.search(key):
        return True
    # Secret Manager's addVersion: {"payload": {"data": "<base64 secret>"}}.
    return key == "data" and parent is not None and _normal(parent) == "payload"


def masked(body: Any, parent: str | None = None) -> Any:
    """`body` (a JSON-able value) with the value of every secret field replaced by [redacted]."""
    if isinstance(body, dict):
        return {
            k: MASK
            if isinstance(k, str) and is_secret(k, parent) and v not in (None, "")
            else masked(v, k if isinstance(k, str) else None)
            for k, v in body.items()
        }
    if isinstance(body, list | tuple):
        return [masked(v, parent) for v in body]
    return body


def masked_query(query: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Query parameters with the values of secret ones replaced by [redacted]."""
    return tuple((k, MASK if _normal(k) in _SECRET_QUERY or is_secret(k) else v) for k, v in query)
