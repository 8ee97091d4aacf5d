"""The one place requests are sent: auth, retries, deadlines, concurrency, pagination, operations."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from skyql.errors import ApiError, ConfigError
from skyql.fetch.auth import HttpxAuthRequest, TokenSource
from skyql.fetch.budget import Budget, HostLimit
from skyql.fetch.failures import (
    EARLIER_ATTEMPT,
    MAYBE_DONE,
    annotate,
    from_response,
    is_not_found,
    operation_failed,
    origin,
    scrub,
    snippet,
    timed_out,
    unreachable,
    where,
)
from skyql.fetch.operations import is_done, poll_request
from skyql.fetch.options import FetchOptions
from skyql.fetch.paging import PageFormatError, count_rows, is_empty, next_page_token
from skyql.fetch.request import Page, Request
from skyql.fetch.retry import (
    RETRY_STATUSES,
    Clock,
    backoff,
    is_idempotent,
    may_retry,
    retry_after,
)
from skyql.fetch.wire import (
    AiohttpWire,
    BodyTooLarge,
    HttpxWire,
    Reply,
    TransportError,
    Wire,
    default_headers,
    is_loopback,
    sync_client,
)
from skyql.registry.model import Service

if TYPE_CHECKING:
    import httpx
    from google.auth.credentials import Credentials

# Empty pages that still carry a next-page token, in a row, before a stream is declared endless.
MAX_EMPTY_PAGES = 10
# Pages of one partition before a stream is declared endless (100 million rows at Google's largest pages).
MAX_PAGES = 100_000
# Polling a long-running operation: growth factor and longest wait (seconds); the first is an option.
POLL_GROWTH, POLL_MAX = 1.5, 10.0
CONNECT_TIMEOUT = 10.0
log = logging.getLogger("skyql.fetch")


@dataclass
class _Failed:
    error: BaseException


_DONE = object()


class Fetcher:
    """Sends Requests over a wire (its own, or a session's); yields raw Pages, returns parsed single answers.

    `transport`: an httpx transport to send through instead of the network (tests, custom transports).
    `wire`: a wire someone else owns and closes (a session's, whose connections outlive this fetcher).
    """

    def __init__(
        self,
        credentials: Credentials | None,
        options: FetchOptions,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        wire: Wire | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_options(options, credentials)
        self.options = options
        self.warnings: list[ApiError] = []  # failed partitions skipped under allow_partial
        self.missing: list[ApiError] = []  # partitions read as empty: their item or parent does not exist
        self.retries = 0  # requests repeated after a retryable failure (reported by benchmarks)
        self._clock = clock or Clock()
        self._rng = rng or random.Random()
        headers = default_headers()
        self._owns_wire = wire is None
        if wire is None:
            wire = (
                AiohttpWire(headers)
                if transport is None
                else HttpxWire(transport, headers, keepalive=max(options.concurrency, 1))
            )
        self._wire: Wire = wire
        # google-auth refreshes tokens synchronously; a mock transport that speaks both sides serves it too.
        # The client is made on the first refresh: with a cached token there is none.
        sync_transport = transport if hasattr(transport, "handle_request") else None
        self._auth = HttpxAuthRequest(lambda: sync_client(sync_transport, headers))  # type: ignore[arg-type]
        self._tokens = TokenSource(credentials, self._auth)
        self._statement: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
            f"skyql_fetch_budget_{id(self)}", default=None
        )

    def __repr__(self) -> str:
        return f"Fetcher(options={self.options!r}, authenticated={self._tokens.credentials is not None})"

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_wire:
            await self._wire.aclose()
        self._auth.close()

    @contextlib.contextmanager
    def statement(self, timeout: float | None = None) -> Iterator[None]:
        """Share one deadline, concurrency bound and per-host rate limits across a statement's calls.

        Without it, every `pages()` and `call()` has a budget of its own.
        """
        budget = Budget(timeout or self.options.timeout, self.options.concurrency, self._clock)
        token = self._statement.set(budget)
        try:
            yield
        finally:
            self._statement.reset(token)

    def _budget(self) -> Budget:
        current = self._statement.get()
        return current or Budget(self.options.timeout, self.options.concurrency, self._clock)

    async def call(self, request: Request) -> dict[str, Any]:
        """Send one non-paged request; its JSON answer ({} for an empty body)."""
        response = await self._send(request, self._budget())
        return _json_object(request, response.content)

    async def pages(
        self, requests: list[Request], fetch_key: str, limit: int | None = None, *, missing_ok: bool = False
    ) -> AsyncIterator[Page]:
        """Every page of every request (one partition each), as they arrive, `concurrency` at a time.

        `limit`: stop once that many rows (items under Request.items_key) were yielded.
        `missing_ok`: a request whose first page is Google's 404 (the item, or a list's parent, does not
        exist) yields no pages instead of failing, as a SELECT reads it; it is logged and kept in `missing`.
        """
        # Leaving early is fine too: wrap the iterator in contextlib.aclosing() so that the requests still
        # in flight are cancelled at once rather than when the generator is collected.
        budget = self._budget()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(2, self.options.concurrency))
        pending = iter(requests)

        async def emit(page: Page, items_key: str | None) -> None:
            await queue.put((page, items_key))

        async def worker() -> None:
            try:
                for request in pending:
                    try:
                        await self._stream(request, fetch_key, budget, emit, missing_ok)
                    except ApiError as exc:
                        if not self.options.allow_partial:
                            raise
                        self.warnings.append(exc)
            except Exception as exc:
                await queue.put(_Failed(exc))
            else:
                await queue.put(_DONE)

        # More streams open than requests in flight: while one stream waits for its next page, another's
        # request takes the slot, so 20 streams of 5 pages at concurrency 16 need ceil(100 / 16) round trips,
        # not two waves of 5. The budget still bounds requests in flight; each extra stream holds one page.
        streams = min(2 * self.options.concurrency, len(requests))
        workers = [asyncio.create_task(worker()) for _ in range(streams)]
        try:
            running, rows = len(workers), 0
            while running:
                item = await queue.get()
                if item is _DONE:
                    running -= 1
                    continue
                if isinstance(item, _Failed):
                    raise item.error
                page, items_key = item
                if limit is not None:
                    rows += _rows(page, items_key)
                yield page
                if limit is not None and rows >= limit:
                    return
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _stream(
        self, request: Request, fetch_key: str, budget: Budget, emit: Any, missing_ok: bool = False
    ) -> None:
        """Follow one partition's nextPageToken to the end; a retry repeats the same page token."""
        base_query = tuple(kv for kv in request.query if kv[0] != "pageToken")
        seen = {v for k, v in request.query if k == "pageToken"}
        current, number, empty_run = request, 0, 0
        while True:
            try:
                response = await self._send(current, budget)
            except ApiError as exc:
                # Only the first page: a 404 halfway through a list is a list gone wrong, not an absent item.
                if missing_ok and number == 0 and is_not_found(exc):
                    log.info("%s; read as no rows", exc)
                    self.missing.append(exc)
                    return
                if number and budget.expired:
                    # The deadline ran out between pages, not on a stuck request: say so, not "no answer".
                    raise ApiError(
                        f"{where(request)}: the list was still paging when the {budget.seconds:g} s deadline"
                        f" passed: {number} pages read, each pointing to a next one (raise the timeout or narrow"
                        " the list with a filter if it is really this long; else the API is not paging correctly)",
                        status="DEADLINE_EXCEEDED",
                        resource=request.resource,
                        params=request.params,
                    ) from None
                raise
            body = response.content
            number += 1
            try:
                token = next_page_token(body)
                empty = token is not None and is_empty(body, request.items_key)
            except PageFormatError as exc:
                raise ApiError(
                    f"{where(request)}: the API returned a response skyql cannot read"
                    f" (HTTP {response.status_code}, page {number}): {exc}",
                    http_status=response.status_code,
                    resource=request.resource,
                    params=request.params,
                ) from None
            await emit(Page(fetch_key, request.params, body, number, response.status_code), request.items_key)
            if token is None:
                return
            if number >= MAX_PAGES:
                raise _endless(request, f"{number} pages, each pointing to a next one")
            if token in seen:
                raise _endless(request, f"page {number} repeated an earlier page token")
            seen.add(token)
            empty_run = empty_run + 1 if empty else 0
            if empty_run > MAX_EMPTY_PAGES:
                raise _endless(request, f"{empty_run} empty pages in a row still pointed to a next page")
            current = replace(request, query=(*base_query, ("pageToken", token)))

    async def wait_operation(
        self,
        operation: dict[str, Any],
        service: Service,
        *,
        endpoint: str | None = None,
        resource: str = "",
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Poll a long-running operation until done; the finished operation (its `response` is the result).

        ApiError when it ends with an error, or is still running after `timeout` (default options.timeout).
        """
        request = poll_request(
            service, operation, endpoint=endpoint or self.options.endpoint, resource=resource, params=params
        )
        seconds = timeout if timeout is not None else self.options.timeout
        budget = Budget(seconds, self.options.concurrency, self._clock)
        delay, current = self.options.poll_interval, operation
        while not is_done(current):
            if delay >= budget.remaining():
                raise ApiError(
                    f"{where(request)}: operation {current.get('name', '')} is still running after {seconds:g} s"
                    " (it goes on at the server; wait with a longer timeout or look it up later)",
                    status="DEADLINE_EXCEEDED",
                    resource=request.resource,
                    params=request.params,
                )
            await self._clock.sleep(delay)
            current = _json_object(request, (await self._send(request, budget)).content)
            delay = min(delay * POLL_GROWTH, POLL_MAX)
        if current.get("error"):
            raise operation_failed(request, current)
        return current

    async def _send(self, request: Request, budget: Budget) -> Reply:
        """Send with auth, retries and the deadline; a 2xx response, else ApiError."""
        host = budget.host(request.host_header or urlsplit(request.url).hostname or "")
        idempotent = is_idempotent(request)
        attempt, refreshed, last = 0, False, None
        lost = False  # an attempt was sent and its answer never came
        while True:
            remaining = budget.remaining()
            if remaining <= 0:
                budget.expired = True
                raise self._clean(timed_out(request, budget.seconds, last))
            headers = await self._headers(request)
            used = self._tokens.token
            self._emit("request", resource=request.resource)
            started = time.monotonic()
            try:
                # A stuck response must not eat the whole deadline: leave half of it for another attempt.
                patience = remaining / 2 if idempotent and attempt < self.options.retries else remaining
                response, epoch = await self._attempt(request, headers, host, budget, remaining, patience)
            except TimeoutError:
                self._emit("response", resource=request.resource, status=None)
                budget.expired = True
                error = timed_out(request, budget.seconds, last)
                raise self._clean(error if idempotent else annotate(error, MAYBE_DONE), used) from None
            except BodyTooLarge as exc:
                self._emit("response", resource=request.resource, status=None)
                raise ApiError(
                    f"{where(request)}: the answer is larger than the {_mb(exc.limit)} response size limit"
                    " (counted decompressed); skyql stopped reading it. Raise the limit with --max-response-mb"
                    " (max_response_mb= in skyql.connect()) if the answer is expected to be this big",
                    resource=request.resource,
                    params=request.params,
                ) from None
            except TransportError as exc:
                self._emit("response", resource=request.resource, status=None)
                log.debug("%s -> %s (%s) after %.0f ms", request.describe(), exc.kind, exc, _ms(started))
                last = self._clean(unreachable(request, exc), used)
                sent = exc.sent
                if sent and not idempotent:
                    # A create whose answer was lost may have happened: repeating it could do it twice.
                    raise annotate(last, MAYBE_DONE) from None
                if not may_retry(request, exc) or attempt >= self.options.retries:
                    raise last from None
                lost = lost or sent
                log.debug("retrying %s after %s", request.describe(), exc.kind)
                self._retried(request, None)
                await self._pause(budget, backoff(attempt, self._rng), request, last)
                attempt += 1
                continue
            status = response.status_code
            self._emit("response", resource=request.resource, status=status)
            if log.isEnabledFor(logging.DEBUG):  # describe() costs a tenth of a loopback request
                log.debug("%s -> HTTP %d in %.0f ms", request.describe(), status, _ms(started))
            if status < 300:  # Google APIs do not redirect: a 3xx is a proxy's doing, not a page
                host.answered(epoch)
                return response
            if status == 401 and self._tokens.credentials is not None and not refreshed:
                # An expired or revoked token: refresh once (shared with every request that saw it) and repeat.
                refreshed = True
                await self._tokens.refresh(used)
                continue
            error = self._clean(
                from_response(request, status, response.content, anonymous=self._tokens.credentials is None),
                used,
            )
            if status == 409 and lost and request.retry_safe:
                error = annotate(error, EARLIER_ATTEMPT)
            if status not in RETRY_STATUSES or not idempotent or attempt >= self.options.retries:
                raise error
            if status == 429:
                before = host.limit
                host.throttled(epoch)
                if host.limit < before:
                    log.info("%s keeps answering 429: %d requests at once from now on", host.name, host.limit)
            asked = retry_after(response.headers)
            delay = asked if asked is not None else backoff(attempt, self._rng)
            log.debug("retrying %s after HTTP %d in %.2f s", request.describe(), status, delay)
            self._retried(request, status)
            await self._pause(budget, delay, request, error)
            attempt, last = attempt + 1, error

    def _emit(self, kind: str, **info: Any) -> None:
        if self.options.on_event is not None:
            self.options.on_event(kind, **info)

    def _retried(self, request: Request, status: int | None) -> None:
        self.retries += 1
        self._emit("retry", resource=request.resource, status=status)

    async def _attempt(
        self,
        request: Request,
        headers: dict[str, str],
        host: HostLimit,
        budget: Budget,
        remaining: float,
        patience: float,
    ) -> tuple[Reply, int]:
        async with asyncio.timeout(remaining), budget.slot(host) as epoch:
            # A silent host must not eat the whole deadline before the first retry.
            response = await self._wire.send(
                request.method,
                request.url,
                request.query,
                headers,
                request.body,
                timeout=patience,
                connect=min(patience, CONNECT_TIMEOUT),
                limit=self.options.max_response_bytes,
            )
        return response, epoch

    async def _pause(self, budget: Budget, delay: float, request: Request, error: ApiError) -> None:
        """Wait before a retry, unless the wait would end past the deadline: then fail with `error`."""
        if delay >= budget.remaining():
            budget.expired = True
            raise self._clean(timed_out(request, budget.seconds, error))
        await self._clock.sleep(delay)

    async def _headers(self, request: Request) -> dict[str, str]:
        headers: dict[str, str] = {}
        if request.host_header:
            headers["Host"] = request.host_header
        if self._tokens.credentials is not None:
            _check_token_safe(request.url, self.options.insecure)
            headers.update(await self._tokens.headers())
        return headers

    def _clean(self, error: ApiError, *tokens: str | None) -> ApiError:
        for token in (*tokens, self._tokens.token):
            error = scrub(error, token)
        return error


def _mb(size: int) -> str:
    return f"{size / 2**20:g} MB"


def _ms(since: float) -> float:
    return (time.monotonic() - since) * 1000


def _rows(page: Page, items_key: str | None) -> int:
    try:
        return count_rows(page.body, items_key)
    except PageFormatError:
        return 0


def _endless(request: Request, why: str) -> ApiError:
    return ApiError(
        f"{where(request)}: pagination did not end: {why}; the API is not paging correctly",
        resource=request.resource,
        params=request.params,
    )


def _json_object(request: Request, body: bytes) -> dict[str, Any]:
    """A response body as a JSON object; {} when empty."""
    if not body.strip():
        return {}
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            f"{where(request)}: the API answered with something that is not JSON: {snippet(body)}",
            resource=request.resource,
            params=request.params,
        ) from None
    return doc if isinstance(doc, dict) else {"value": doc}


def _check_options(options: FetchOptions, credentials: Credentials | None) -> None:
    if options.concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {options.concurrency}")
    if options.retries < 0:
        raise ConfigError(f"retries must be 0 or more, got {options.retries}")
    timeout = options.timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout < float("inf"):
        # nan compares false with everything: it would pass a plain `<= 0` test and never time out.
        raise ConfigError(f"timeout must be a number of seconds more than 0, got {options.timeout!r}")
    if options.max_response_bytes < 1:
        raise ConfigError(
            f"the response size limit must be more than 0, got {options.max_response_bytes} bytes"
        )
    if options.poll_interval <= 0:
        raise ConfigError(f"poll_interval must be more than 0 seconds, got {options.poll_interval:g}")
    if options.endpoint:
        parts = urlsplit(options.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"endpoint {options.endpoint!r} is not an http(s) URL; expected e.g. http://127.0.0.1:8089"
            )
        if credentials is not None:
            _check_token_safe(options.endpoint, options.insecure)


def _check_token_safe(url: str, insecure: bool) -> None:
    """Tokens go over https, or to this machine; plain http elsewhere only when asked for."""
    parts = urlsplit(url)
    if insecure or parts.scheme == "https" or is_loopback(parts.hostname):
        return
    raise ConfigError(
        f"refusing to send credentials over plain http to {origin(url)}: use https, a loopback address,"
        " or allow it explicitly with --insecure (insecure=True in skyql.connect())"
    )
