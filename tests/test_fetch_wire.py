"""The wire skyql sends on (aiohttp): exact bytes out, bodies in, proxies from the environment, failure kinds."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from skyql.fetch import Fetcher, FetchOptions, Request
from skyql.fetch.wire import CONNECT, DROPPED, TIMEOUT, AiohttpWire, TransportError, proxy_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder(BaseHTTPRequestHandler):
    """Answers every request with what it received; /gzip answers gzip-encoded, /drop closes without a word."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = {"line": self.requestline, "headers": dict(self.headers), "body": body.decode()}
        Recorder.seen.append(seen)
        if self.path.endswith("/drop"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        out = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.path.endswith("/gzip"):
            out = gzip.compress(out)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def send(url: str, *, method: str = "GET", query=(), headers=None, body=None, timeout: float = 5.0):
    wire = AiohttpWire({"User-Agent": "skyql/test"})
    try:
        return await wire.send(method, url, query, headers or {}, body, timeout=timeout, connect=timeout)
    finally:
        await wire.aclose()


async def test_path_segments_stay_encoded_and_the_query_is_percent_encoded(server):
    reply = await send(
        f"{server}/v1/projects/a%2Fb/jobs",
        query=[("filter", "state = RUNNING"), ("fields", "jobs(jobId,state)")],
    )
    assert reply.status_code == 200
    line = json.loads(reply.content)["line"]
    assert (
        line
        == "GET /v1/projects/a%2Fb/jobs?filter=state%20%3D%20RUNNING&fields=jobs%28jobId%2Cstate%29 HTTP/1.1"
    )


async def test_a_json_body_goes_as_compact_utf8_with_its_content_type(server):
    reply = await send(
        f"{server}/v1/projects/p/jobs",
        method="POST",
        body={"jobId": "é", "n": 1},
        headers={"Host": "ml.googleapis.com"},
    )
    seen = json.loads(reply.content)
    assert seen["body"] == '{"jobId":"é","n":1}'
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["Host"] == "ml.googleapis.com"
    assert seen["headers"]["User-Agent"] == "skyql/test"


async def test_a_gzip_answer_is_read_decompressed(server):
    reply = await send(f"{server}/v1/gzip")
    assert json.loads(reply.content)["line"].startswith("GET /v1/gzip ")
    assert reply.headers["content-encoding"] == "gzip"  # headers are looked up case-insensitively


async def test_a_refused_connection_is_a_connect_failure_that_was_never_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError) as err:
        await send(f"http://127.0.0.1:{port}/v1/x")
    assert (err.value.kind, err.value.sent) == (CONNECT, False)


async def test_a_dropped_connection_is_a_failure_that_may_have_been_acted_on(server):
    with pytest.raises(TransportError) as err:
        await send(f"{server}/v1/drop", method="POST", body={})
    assert (err.value.kind, err.value.sent) == (DROPPED, True)


async def test_a_silent_server_is_a_timeout():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(TransportError) as err:
            await send(f"http://127.0.0.1:{port}/v1/x", timeout=0.2)
    assert (err.value.kind, err.value.sent) == (TIMEOUT, True)


async def test_requests_go_through_the_environment_proxy_but_never_for_loopback(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", server)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    reply = await send("http://ml.googleapis.invalid/v1/projects/p/jobs")
    assert json.loads(reply.content)["line"] == "GET http://ml.googleapis.invalid/v1/projects/p/jobs HTTP/1.1"
    direct = await send(f"{server}/v1/direct")  # the proxy itself is loopback: asked directly
    assert json.loads(direct.content)["line"] == "GET /v1/direct HTTP/1.1"


def test_no_proxy_and_loopback_bypass_the_proxy():
    proxies = {"https": "http://proxy:3128", "http": "http://proxy:3128", "no": "internal.example,.corp"}
    assert proxy_for("https://ml.googleapis.com/v1/x", proxies) == "http://proxy:3128"
    assert proxy_for("https://api.internal.example/v1/x", proxies) is None
    assert proxy_for("https://ml.corp/v1/x", proxies) is None
    assert proxy_for("http://127.0.0.1:8089/v1/x", proxies) is None
    assert proxy_for("http://localhost:8089/v1/x", proxies) is None
    assert proxy_for("https://ml.googleapis.com/v1/x", {}) is None


async def test_skyql_asks_for_gzip_answers_the_way_google_serves_them(server):
    # Google compresses only for an Accept-Encoding with gzip and a User-Agent that contains "gzip".
    async with Fetcher(None, FetchOptions()) as fetcher:
        seen = await fetcher.call(Request("GET", f"{server}/v1/gzip"))
    assert "gzip" in seen["headers"]["Accept-Encoding"]
    assert seen["headers"]["User-Agent"].startswith("skyql/") and "(gzip)" in seen["headers"]["User-Agent"]
