"""In-memory state: collections of items (kept as JSON bytes), operations, IAM policies, singletons."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from skyql.emulator.status import bad_request


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Collection:
    """The items under one parent, in insertion order; each item is stored once, as its JSON bytes."""

    __slots__ = ("key", "ids", "items", "owners")

    def __init__(self, key: str) -> None:
        self.key = key
        self.ids: list[str] = []
        self.items: dict[str, bytes] = {}
        # The project of each item, for a root collection listed per project (storage's `b?project=`).
        self.owners: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self.items

    def put(self, item_id: str, obj: dict[str, Any]) -> bytes:
        raw = dumps(obj)
        if item_id not in self.items:
            self.ids.append(item_id)
        self.items[item_id] = raw
        return raw

    def put_raw(self, item_id: str, raw: bytes) -> None:
        if item_id not in self.items:
            self.ids.append(item_id)
        self.items[item_id] = raw

    def get(self, item_id: str) -> dict[str, Any] | None:
        raw = self.items.get(item_id)
        return None if raw is None else json.loads(raw)

    def delete(self, item_id: str) -> bool:
        if self.items.pop(item_id, None) is None:
            return False
        self.ids.remove(item_id)
        self.owners.pop(item_id, None)
        return True

    def objects(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for item_id in list(self.ids):
            raw = self.items.get(item_id)
            if raw is not None:
                yield item_id, json.loads(raw)


def page_token(scope: str, offset: int, last_id: str) -> str:
    """An opaque token: where the next page starts, bound to the list (and filter) it came from."""
    check = zlib.crc32(scope.encode()) & 0xFFFFFFFF
    raw = f"{offset}\x1f{last_id}\x1f{check:08x}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_page_token(token: str, scope: str, ids: list[str]) -> int:
    """The offset a token points at in `ids`; a 400 for a token this list did not issue."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        offset_s, last_id, check = raw.split("\x1f")
        offset = int(offset_s)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request("Invalid page token.", field="page_token") from None
    if check != f"{zlib.crc32(scope.encode()) & 0xFFFFFFFF:08x}" or offset < 1:
        raise bad_request("Invalid page token: it belongs to another list or filter.", field="page_token")
    if offset <= len(ids) and ids[offset - 1] == last_id:
        return offset
    # Items were inserted or deleted since: continue after the last item returned, if it is still there.
    try:
        return ids.index(last_id) + 1
    except ValueError:
        return min(offset, len(ids))


@dataclass
class Operation:
    """A long-running operation: done after `done_after` reads, then with `response` or `error`."""

    name: str
    metadata: dict[str, Any]
    done_after: int
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    polls: int = 0
    cancelled: bool = False
    # Compute's shape (kind compute#operation, status PENDING/RUNNING/DONE, selfLink): its fields, else None.
    compute: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.cancelled or self.polls >= self.done_after

    def render(self) -> dict[str, Any]:
        if self.compute is not None:
            return self._render_compute()
        out: dict[str, Any] = {"name": self.name, "metadata": self.metadata, "done": self.done}
        if not self.done:
            out.pop("done")  # proto3 JSON omits a false bool, as Google's answers do
            return out
        if self.error is not None:
            out["error"] = self.error
        else:
            out["response"] = (
                self.response
                if self.response is not None
                else {"@type": "type.googleapis.com/google.protobuf.Empty"}
            )
        return out

    def _render_compute(self) -> dict[str, Any]:
        out = dict(self.compute or {})
        if not self.done:
            out.update(status="RUNNING" if self.polls else "PENDING", progress=50 if self.polls else 0)
            return out
        out.update(status="DONE", progress=100, endTime=out.get("startTime", ""))
        if self.error is not None:
            # Compute reports errors as a list of {code, message}, with the HTTP status beside it.
            out["error"] = {
                "errors": [
                    {
                        "code": _COMPUTE_CODES.get(self.error.get("code", 2), "INTERNAL_ERROR"),
                        "message": self.error.get("message", ""),
                    }
                ]
            }
            out["httpErrorStatusCode"] = _HTTP_CODES.get(self.error.get("code", 2), 500)
        return out


# google.rpc codes -> compute's error codes and HTTP statuses, for the few an operation ends with.
_COMPUTE_CODES = {
    1: "CANCELLED",
    3: "INVALID_ARGUMENT",
    5: "RESOURCE_NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "QUOTA_EXCEEDED",
    9: "CONDITION_NOT_MET",
    14: "SERVICE_UNAVAILABLE",
}
_HTTP_CODES = {1: 499, 3: 400, 5: 404, 6: 409, 7: 403, 8: 429, 9: 412, 13: 500, 14: 503}


@dataclass
class Store:
    """Everything the emulator holds; one lock, since handlers run on many threads."""

    collections: dict[tuple[str, str], Collection] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    singletons: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def collection(self, service: str, path: str) -> Collection | None:
        return self.collections.get((service, path))

    def create_collection(self, service: str, path: str) -> Collection:
        key = (service, path)
        coll = self.collections.get(key)
        if coll is None:
            coll = self.collections[key] = Collection(path)
        return coll

    def holds_under(self, service: str, prefix: str) -> bool:
        """Whether `service` holds any collection at or below the resource path `prefix`."""
        below = prefix + "/"
        return any(
            s == service and len(c) and (p == prefix or p.startswith(below))
            for (s, p), c in self.collections.items()
        )

    def drop_below(self, service: str, name: str) -> None:
        """Forget the child collections of a deleted resource."""
        below = name + "/"
        for key in [k for k in self.collections if k[0] == service and k[1].startswith(below)]:
            del self.collections[key]
