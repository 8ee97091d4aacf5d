"""HTTP failures -> ApiError with a message a user can act on (never a parse crash, never a token)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from skyql.errors import ApiError
from skyql.fetch.request import Request
from skyql.fetch.wire import CONNECT, TIMEOUT, TransportError
from skyql.terminal import printable

# google.rpc.Code numbers, as long-running operations report them.
GRPC_STATUS = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}
AUTH_HINT = (
    "; check the credentials (--auth, the GOOGLE_CREDENTIALS variable,"
    " or `gcloud auth application-default login`)"
)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def where(request: Request) -> str:
    """ "google.ml.jobs (projectsId='p2')": which call failed, as the user wrote it."""
    label = ", ".join(f"{k}={v!r}" for k, v in request.params.items())
    name = request.resource or origin(request.url)
    return f"{name} ({label})" if label else name


def origin(url: str) -> str:
    """scheme://host[:port] of a URL: what 'unreachable' names."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def from_response(request: Request, status: int, body: bytes, *, anonymous: bool = False) -> ApiError:
    """The ApiError for an HTTP error answer, whether its body is Google's JSON error or not."""
    code, message = _parse_error(body)
    # The server's words end up on a terminal (and in exceptions a notebook shows): no control characters.
    code, message = (printable(code) if code else code), printable(message, newlines=True)
    text = f"{where(request)}: HTTP {status}"
    if code:
        text += f" {code}"
    if message:
        text += f": {message}"
    if status == 401:
        text += ("; no credentials were found" + AUTH_HINT) if anonymous else AUTH_HINT
    return ApiError(text, http_status=status, status=code, resource=request.resource, params=request.params)


def is_not_found(error: ApiError) -> bool:
    """Google's own 404: the item (or its parent) does not exist. A 404 without Google's JSON error body is a
    wrong URL or endpoint (a proxy's or a web server's page), which stays an error."""
    return error.http_status == 404 and error.status is not None


def _parse_error(body: bytes) -> tuple[str | None, str]:
    """(Google's error.status, message); for a non-JSON body, the start of its text."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, snippet(body)
    if not isinstance(doc, dict):
        return None, snippet(body)
    err = doc.get("error")
    if isinstance(err, dict):
        code = err.get("status")
        message = err.get("message") or ""
        if not code:
            reasons = [e.get("reason") for e in err.get("errors", []) if isinstance(e, dict)]
            code = next((r for r in reasons if r), None)
        return (str(code) if code else None), str(message)
    if isinstance(err, str):
        # OAuth-style: {"error": "invalid_token", "error_description": "..."}.
        return None, f"{err}: {doc.get('error_description', '')}".rstrip(": ")
    return None, snippet(body)


def snippet(body: bytes, limit: int = 200) -> str:
    """The first `limit` characters of a body as plain text (HTML tags dropped)."""
    text = body.decode("utf-8", errors="replace")
    text = printable(_SPACE.sub(" ", _TAG.sub(" ", text)).strip())
    return text[:limit] + ("..." if len(text) > limit else "")


def unreachable(request: Request, exc: TransportError) -> ApiError:
    """The endpoint did not answer (refused, unknown host, dropped connection): name it."""
    reason = str(exc) or exc.kind
    what = {CONNECT: "is unreachable", TIMEOUT: "did not answer in time"}.get(
        exc.kind, "dropped the connection"
    )
    return ApiError(
        f"{where(request)}: the endpoint {origin(request.url)} {what} ({reason}); check the endpoint and the network",
        resource=request.resource,
        params=request.params,
    )


def timed_out(request: Request, seconds: float, last: ApiError | None = None) -> ApiError:
    """The per-statement deadline passed; say what was last seen."""
    text = f"{where(request)}: no answer within the {seconds:g} s deadline (raise the timeout to wait longer)"
    if last is not None:
        text += f"; last error: {last}"
    return ApiError(
        text,
        http_status=last.http_status if last else None,
        status=last.status if last else "DEADLINE_EXCEEDED",
        resource=request.resource,
        params=request.params,
    )


def operation_failed(request: Request, operation: dict[str, Any]) -> ApiError:
    """A long-running operation finished with an error (Google's Status, or compute's errors list)."""
    err = operation.get("error") or {}
    code: str | None = None
    message = ""
    if isinstance(err.get("code"), int):
        code = GRPC_STATUS.get(err["code"], str(err["code"]))
        message = str(err.get("message", ""))
    elif isinstance(err.get("errors"), list) and err["errors"]:
        first = err["errors"][0]
        code = first.get("code")
        message = "; ".join(str(e.get("message", "")) for e in err["errors"])
    name = printable(str(operation.get("name", "")))
    text = f"{where(request)}: operation {name} failed"
    if code:
        text += f": {printable(str(code))}"
    if message:
        text += f": {printable(message, newlines=True)}"
    return ApiError(text, status=code, resource=request.resource, params=request.params)


# Said of a request that is not safe to repeat when no answer came back for it.
MAYBE_DONE = (
    "; the request was sent, so it may or may not have taken effect: skyql did not send it again, since that"
    " could do it twice; check (e.g. with a SELECT) before running it again"
)
# Said of a 409 to a repeated create whose earlier attempt got no answer.
EARLIER_ATTEMPT = "; an earlier attempt of this request got no answer, so that attempt most likely created it"


def annotate(error: ApiError, note: str) -> ApiError:
    """The same error with `note` added to its message."""
    return ApiError(
        f"{error}{note}",
        http_status=error.http_status,
        status=error.status,
        resource=error.resource,
        params=error.params,
    )


def scrub(error: ApiError, secret: str | None) -> ApiError:
    """Drop a token from an error's message, should a proxy or server have echoed it back."""
    if not secret or secret not in str(error):
        return error
    return ApiError(
        str(error).replace(secret, "[redacted]"),
        http_status=error.http_status,
        status=error.status,
        resource=error.resource,
        params=error.params,
    )
