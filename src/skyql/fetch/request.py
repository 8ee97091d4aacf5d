"""Requests as data: every HTTP call is described before it is sent (and printed by --dryrun)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str  # HTTP verb
    url: str  # absolute, path segments already percent-encoded
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None  # a JSON-able object, sent as application/json
    # For errors: which resource and parameters this request came from.
    resource: str = ""
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # With an endpoint override: the real API host, sent as Host (emulators and PGA VIPs route by it).
    host_header: str | None = None
    # Where the rows of a response are ("jobs"), to count rows and spot empty pages; None for one object.
    items_key: str | None = None
    # A POST that may be sent again after its answer was lost: it names what it creates (a client-chosen id)
    # or carries a requestId, so the server refuses or ignores a second copy.
    retry_safe: bool = False

    def describe(self) -> str:
        """One line for --dryrun and logs: never carries credentials, nor secret fields (passwords, keys)."""
        from urllib.parse import urlencode

        from skyql.fetch.secrets import masked, masked_query

        line = f"{self.method} {self.url}"
        if self.query:
            line += "?" + urlencode(masked_query(self.query), safe="[]")
        if self.body is not None:
            line += " " + json.dumps(masked(self.body), separators=(",", ":"))
        return line


@dataclass
class Page:
    """One response page, raw: the engine parses it, Python never holds all pages."""

    fetch_key: str
    partition: dict[str, Any]
    body: bytes
    number: int  # 1-based page number within the partition
    status: int = 200  # the HTTP status it came with (a 2xx)
