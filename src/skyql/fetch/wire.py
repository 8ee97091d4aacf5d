"""One HTTP exchange, bytes in and bytes out: aiohttp on the network, or an injected httpx transport.

Everything above this module (auth, retries, deadlines, paging) sees only `Reply` and `TransportError`.
aiohttp is the default because a page chain is sequential: each request's client-side cost adds up, and
aiohttp's is about a third of httpx's async path (docs/performance.md). An httpx transport (a
MockTransport in tests, a custom one of the user's) goes through an httpx.AsyncClient instead.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import ssl
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

if TYPE_CHECKING:
    import httpx  # imported where used: only injected transports and token refreshes need it

# Loopback traffic never goes through an HTTP(S)_PROXY from the environment.
_NO_PROXY = ("all://localhost", "all://127.0.0.1", "all://[::1]")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")
CONNECT, TIMEOUT, DROPPED = "connect", "timeout", "dropped"


@functools.lru_cache(maxsize=256)
def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 and localhost."""
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer, read to the end."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes


class TransportError(Exception):
    """No answer came: `kind` is connect, timeout or dropped; `sent` when the server may have acted on it."""

    def __init__(self, kind: str, sent: bool, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.sent = sent


class BodyTooLarge(Exception):
    """An answer grew past the size limit once decompressed: reading it would exhaust memory."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class Wire(Protocol):
    async def send(
        self,
        method: str,
        url: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: Any,
        timeout: float,
        connect: float,
        limit: int | None = None,
    ) -> Reply: ...

    async def aclose(self) -> None: ...


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client, built on the first https request: it loads the CA bundle (~40 ms)."""
    import httpx

    return httpx.create_ssl_context()


def encode_body(body: Any, headers: Mapping[str, str]) -> tuple[bytes | None, Mapping[str, str]]:
    """A JSON-able request body as bytes (compact UTF-8, as httpx's json= writes it), with its Content-Type."""
    if body is None:
        return None, headers
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    return data, {**headers, "Content-Type": "application/json"}


def default_headers() -> dict[str, str]:
    """Headers of every request skyql sends."""
    import skyql

    # Google compresses answers only for a User-Agent that says gzip (and Accept-Encoding, which aiohttp sends).
    return {"User-Agent": f"skyql/{skyql.__version__} (gzip)"}


class AiohttpWire:
    """The network: one aiohttp session, opened on first use inside the running event loop.

    A session (skyql.Session) keeps one across statements, so its connections stay alive between them.
    """

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._headers = dict(headers) if headers is not None else default_headers()
        self._session: Any = None
        self._proxies: dict[str, str] = {}

    def _open(self) -> Any:
        import aiohttp

        self._proxies = urllib.request.getproxies_environment()
        # No connection limit of its own: the statement's Budget bounds requests in flight. Idle connections
        # are dropped after 15 s, long before a server drops them: a POST sent on a connection the server has
        # just closed could not safely be sent again.
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=15)
        # trust_env=False: proxies are chosen per host below, so that loopback never goes through one.
        return aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            trust_env=False,
            auto_decompress=True,
            skip_auto_headers=("Content-Type",),
        )

    async def send(
        self,
        method: str,
        url: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: Any,
        timeout: float,
        connect: float,
        limit: int | None = None,
    ) -> Reply:
        import aiohttp
        import yarl

        if self._session is None:
            self._session = self._open()
        if query:
            url += ("&" if "?" in url else "?") + "&".join(_query_pair(k, v) for k, v in query)
        data, sent_headers = encode_body(body, headers)
        limits = aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=timeout)
        try:
            # encoded=True: build_request already percent-encoded each path segment; requoting would undo it.
            async with self._session.request(
                method,
                yarl.URL(url, encoded=True),
                headers=sent_headers,
                data=data,
                timeout=limits,
                proxy=proxy_for(url, self._proxies),
                allow_redirects=False,
                ssl=tls_context() if url.startswith("https:") else True,
            ) as response:
                content = await _read_capped(response, limit)
                return Reply(response.status, response.headers, content)
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(CONNECT, False, _reason(exc)) from None
        except aiohttp.ConnectionTimeoutError:
            raise TransportError(CONNECT, False, "connect timeout") from None
        except (aiohttp.ServerTimeoutError, TimeoutError):
            raise TransportError(TIMEOUT, True, "read timeout") from None
        except aiohttp.ClientError as exc:
            raise TransportError(DROPPED, True, _reason(exc)) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxWire:
    """An injected httpx transport, through an httpx.AsyncClient."""

    def __init__(
        self, transport: httpx.AsyncBaseTransport, headers: Mapping[str, str], keepalive: int
    ) -> None:
        import httpx

        self._client = httpx.AsyncClient(
            transport=transport,
            headers=dict(headers),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=keepalive),
            mounts=dict.fromkeys(_NO_PROXY),
            verify=tls_context(),
        )

    async def send(
        self,
        method: str,
        url: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: Any,
        timeout: float,
        connect: float,
        limit: int | None = None,
    ) -> Reply:
        import httpx

        data, sent_headers = encode_body(body, headers)
        try:
            request = self._client.build_request(
                method,
                url,
                params=list(query) if query else None,
                content=data,
                headers=sent_headers,
                timeout=httpx.Timeout(timeout, connect=connect),
            )
            response = await self._client.send(request, stream=True)
            try:
                content = await _collect(response.aiter_bytes(), limit)
            finally:
                await response.aclose()
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransportError(CONNECT, False, _reason(exc)) from None
        except httpx.TimeoutException as exc:
            raise TransportError(TIMEOUT, True, _reason(exc)) from None
        except httpx.HTTPError as exc:
            raise TransportError(DROPPED, True, _reason(exc)) from None
        return Reply(response.status_code, response.headers, content)

    async def aclose(self) -> None:
        await self._client.aclose()


async def _read_capped(response: Any, limit: int | None) -> bytes:
    """An aiohttp response's (decompressed) body, or BodyTooLarge as soon as it passes `limit` bytes."""
    if limit is None:
        return await response.read()
    return await _collect(response.content.iter_chunked(1 << 16), limit)


async def _collect(chunks: Any, limit: int | None) -> bytes:
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLarge(limit)
        parts.append(chunk)
    return b"".join(parts)


def sync_client(transport: httpx.BaseTransport | None, headers: Mapping[str, str]) -> httpx.Client:
    """The blocking client google-auth refreshes tokens with (a token endpoint is one call an hour)."""
    import httpx

    return httpx.Client(
        transport=transport, headers=dict(headers), mounts=dict.fromkeys(_NO_PROXY), verify=tls_context()
    )


def proxy_for(url: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy from HTTP(S)_PROXY/ALL_PROXY that applies to `url` (NO_PROXY honoured); none for loopback."""
    if not proxies:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_loopback(host) or urllib.request.proxy_bypass_environment(host, dict(proxies)):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


@functools.lru_cache(maxsize=1024)
def _query_pair(name: str, value: str) -> str:
    """`name=value`, percent-encoded as urlencode does; a stream repeats all but its page token."""
    return urlencode(((name, value),), quote_via=quote)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
