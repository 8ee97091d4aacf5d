"""Options of the fetch layer, set once per session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FetchOptions:
    concurrency: int = 16  # requests in flight at once, across every partition of a statement
    retries: int = 5  # retries of one request after a retryable failure (so up to retries + 1 attempts)
    timeout: float = 60.0  # per-statement deadline in seconds: retries and paging stop when it passes
    page_size: int | None = None  # pageSize (or maxResults) sent to paging list methods; None = the API's
    endpoint: str | None = None  # google override URL (the emulator, a proxy); None = Google's endpoints
    insecure: bool = False  # allow sending credentials over plain http to a non-loopback host
    allow_partial: bool = False  # a failed partition becomes a warning instead of failing the statement
    poll_interval: float = (
        0.5  # first wait before re-reading a long-running operation (then 1.5x, up to 10 s)
    )
    # Largest answer read, in bytes once decompressed: a small gzip body can expand to gigabytes.
    max_response_bytes: int = 128 * 2**20
    # Progress observer: on_event(kind, **info) for "request", "response" and "retry" (the shell's live line).
    on_event: Callable[..., Any] | None = field(default=None, compare=False)
