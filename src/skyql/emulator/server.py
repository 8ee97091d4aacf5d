"""The HTTP/1.1 side: a threading stdlib server with keep-alive that always answers in Google's JSON."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

from skyql.emulator.status import GoogleError

MAX_BODY = 32 * 1024 * 1024  # Google refuses larger JSON requests too
MAX_LINE = 65536
MAX_HEADERS = 100
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (fault injection)


Processor = Callable[[str, str, "Headers", bytes], Reply]


class EmulatorHTTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], process: Processor) -> None:
        self.process = process
        self.connections: set[socket.socket] = set()
        self.accepted = 0  # connections ever accepted (clients that reuse theirs keep it low)
        self.conn_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def close_connections(self) -> None:
        """Unblock keep-alive threads waiting on idle clients, so stopping never hangs."""
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Headers(dict[str, str]):
    """Request headers by lower-case name; `get` takes any case."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


class BadRequest(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Handler(socketserver.StreamRequestHandler):
    """A lean HTTP/1.1 loop: the stdlib's BaseHTTPRequestHandler spends more on parsing than we do on answering."""

    disable_nagle_algorithm = True
    timeout = 60  # an idle or half-sent request is closed, never left hanging
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.conn_lock:
            self.server.connections.add(self.connection)
            self.server.accepted += 1

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        try:
            while self.handle_one():
                pass
        except (ConnectionError, TimeoutError, OSError):
            pass

    def handle_one(self) -> bool:
        """Serve one request; False when the connection is to be closed."""
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        try:
            method, target, keep_alive, headers = self._head(line)
            if method not in METHODS:
                raise BadRequest(
                    501, f"HTTP method {method} is not supported: use GET, POST, PUT, PATCH or DELETE."
                )
            if headers.get("expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = self._body(headers)
        except BadRequest as exc:
            err = GoogleError(exc.code, str(exc))
            self._write(Reply(exc.code, err.body(), err.headers), keep_alive=False)
            return False
        reply = self.server.process(method, target, headers, body)
        if reply.drop:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return False
        self._write(reply, keep_alive)
        return keep_alive

    def _head(self, line: bytes) -> tuple[str, str, bool, Headers]:
        if len(line) > MAX_LINE:
            raise BadRequest(414, "The request URL is too long.")
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest(400, f"Malformed request line {line[:80]!r}.")
        method, target, version = parts
        headers = Headers()
        for _ in range(MAX_HEADERS + 1):
            raw = self.rfile.readline(MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            if len(raw) > MAX_LINE:
                raise BadRequest(431, "A request header is too long.")
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep:
                raise BadRequest(400, f"Malformed header line {raw[:80]!r}.")
            headers[name.strip().lower()] = value.strip()
        else:
            raise BadRequest(431, "Too many request headers.")
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        return method, target, keep_alive, headers

    def _body(self, headers: Headers) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            total = 0
            while True:
                try:
                    size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
                except ValueError:
                    raise BadRequest(400, "Malformed chunked encoding.") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise BadRequest(413, "Request payload size exceeds the limit: 33554432 bytes.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = headers.get("content-length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise BadRequest(400, f"Invalid Content-Length {length!r}.") from None
        if n < 0:
            raise BadRequest(400, f"Invalid Content-Length {length!r}.")
        if n > MAX_BODY:
            raise BadRequest(413, "Request payload size exceeds the limit: 33554432 bytes.")
        body = self.rfile.read(n)
        if len(body) != n:
            raise ConnectionError("client closed mid-body")
        return body

    def _write(self, reply: Reply, keep_alive: bool) -> None:
        head = (
            f"HTTP/1.1 {reply.status} {_PHRASES.get(reply.status, 'Error')}\r\n"
            f"Content-Type: application/json; charset=UTF-8\r\nContent-Length: {len(reply.body)}\r\n"
            "Server: ESF\r\nVary: Origin, X-Origin, Referer\r\n"
        )
        for k, v in reply.headers.items():
            head += f"{k}: {v}\r\n"
        if not keep_alive:
            head += "Connection: close\r\n"
        self.wfile.write((head + "\r\n").encode("latin-1") + reply.body)


_PHRASES = {s.value: s.phrase for s in HTTPStatus}
