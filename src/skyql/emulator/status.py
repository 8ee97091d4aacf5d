"""Google's error format: `{"error": {"code", "message", "status", "details"}}` and the status tables."""

from __future__ import annotations

import json
from typing import Any

# google.rpc.Code: name -> number (used inside Operation.error, which carries the RPC code).
RPC_CODES = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}

# The status Google sends with each HTTP code when nothing more specific applies.
HTTP_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ALREADY_EXISTS",
    411: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_REASONS = {
    "INVALID_ARGUMENT": "BAD_REQUEST",
    "UNAUTHENTICATED": "ACCESS_TOKEN_EXPIRED",
    "PERMISSION_DENIED": "IAM_PERMISSION_DENIED",
    "NOT_FOUND": "RESOURCE_NOT_FOUND",
    "ALREADY_EXISTS": "RESOURCE_ALREADY_EXISTS",
    "ABORTED": "CONCURRENT_MODIFICATION",
    "FAILED_PRECONDITION": "FAILED_PRECONDITION",
    "RESOURCE_EXHAUSTED": "RATE_LIMIT_EXCEEDED",
    "INTERNAL": "INTERNAL_ERROR",
    "UNAVAILABLE": "SERVICE_UNAVAILABLE",
    "UNIMPLEMENTED": "METHOD_NOT_FOUND",
    "DEADLINE_EXCEEDED": "DEADLINE_EXCEEDED",
    "CANCELLED": "CANCELLED",
}


def status_for(code: int) -> str:
    """The canonical status name for an HTTP code."""
    if code in HTTP_STATUS:
        return HTTP_STATUS[code]
    return "INTERNAL" if code >= 500 else "INVALID_ARGUMENT" if code >= 400 else "OK"


class GoogleError(Exception):
    """An API error, rendered exactly as Google renders it."""

    def __init__(
        self,
        code: int,
        message: str,
        status: str | None = None,
        *,
        reason: str | None = None,
        field: str | None = None,
        retry_after: float | None = None,
        service: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or status_for(code)
        self.reason = reason or _REASONS.get(self.status, self.status)
        self.field = field
        self.retry_after = retry_after
        self.service = service
        self.headers = dict(headers or {})
        if retry_after is not None:
            self.headers.setdefault(
                "Retry-After", str(int(retry_after) if retry_after == int(retry_after) else retry_after)
            )

    def details(self) -> list[dict[str, Any]]:
        info: dict[str, Any] = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": self.reason,
            "domain": "googleapis.com",
        }
        if self.service:
            info["metadata"] = {"service": f"{self.service}.googleapis.com"}
        out = [info]
        if self.field:
            out.append(
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": self.field, "description": self.message}],
                }
            )
        if self.retry_after is not None:
            out.append(
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{self.retry_after}s"}
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "status": self.status,
                "details": self.details(),
            }
        }

    def rpc_status(self) -> dict[str, Any]:
        """The google.rpc.Status an Operation carries in its `error` field."""
        return {"code": RPC_CODES.get(self.status, 2), "message": self.message, "details": self.details()}

    def body(self) -> bytes:
        return json.dumps(self.as_dict()).encode()


def bad_request(message: str, field: str | None = None) -> GoogleError:
    return GoogleError(400, message, "INVALID_ARGUMENT", field=field)


def not_found(message: str) -> GoogleError:
    return GoogleError(404, message, "NOT_FOUND")
