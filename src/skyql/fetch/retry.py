"""When to retry, and how long to wait: exponential backoff with full jitter, Retry-After honoured."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from skyql.fetch.request import Request
from skyql.fetch.wire import TransportError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# POST custom methods that only read: repeating them cannot change anything.
SAFE_CUSTOM_METHODS = (":getIamPolicy", ":testIamPermissions")
BASE_DELAY = 0.2
MAX_DELAY = 10.0


class Clock:
    """Monotonic time and sleep; tests inject one that does not wait."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def is_idempotent(request: Request) -> bool:
    """True when sending `request` twice has the same effect as once."""
    if request.method.upper() in IDEMPOTENT_METHODS or request.retry_safe:
        return True
    return urlsplit(request.url).path.endswith(SAFE_CUSTOM_METHODS)


def may_retry(request: Request, exc: TransportError) -> bool:
    """A transport failure is retried for idempotent requests, and for any request that was never sent."""
    return not exc.sent or is_idempotent(request)


def backoff(attempt: int, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (attempt counts from 0)."""
    return rng.uniform(0.0, min(MAX_DELAY, BASE_DELAY * (2**attempt)))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait (Retry-After as seconds or an HTTP date), else None."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
