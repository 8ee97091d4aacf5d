"""Malformed API answers end to end: a tiny loopback server (the emulator only serves good ones) answers
skyql's real HTTP requests with broken bodies; every one ends in an error that names the resource, the
partition and the HTTP status."""

from __future__ import annotations

import http.server
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from skyql.emulator import Emulator
from skyql.errors import ApiError
from skyql.session import Options, Session

HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
)
JOB = {"jobId": "j1", "state": "SUCCEEDED"}


def page(token: str | None = None, jobs: list[dict[str, Any]] | None = None) -> bytes:
    body: dict[str, Any] = {"jobs": [JOB] if jobs is None else jobs}
    if token:
        body["nextPageToken"] = token
    return json.dumps(body).encode()


def answer(project: str, token: str | None) -> tuple[int, bytes, str]:
    """(status, body, content type) the bad server gives for a page of `project`'s jobs."""
    json_type = "application/json"
    if project == "bad-cut":
        return 200, b'{"jobs": [{"jobId": "j1", "state": "SUCC', json_type
    if project == "bad-cut-page-2":
        return (200, page("p2"), json_type) if token is None else (200, page()[:-9], json_type)
    if project == "bad-cut-token":
        return 200, b'{"jobs": [{"jobId": "j1"}], "nextPageToken": "t2", "kind": "ml#listJo', json_type
    if project == "bad-type":
        return 200, b'{"jobs": "j1"}', json_type
    if project == "bad-array":
        return 200, b'[{"jobId": "j1"}]', json_type
    if project == "bad-html":
        return 200, b"<!DOCTYPE html><html><body><h1>Sign in to continue</h1></body></html>", "text/html"
    if project == "bad-empty":
        return 200, b"", json_type
    if project == "bad-utf8":
        return 200, b'{"jobs": [{"jobId": "\xff\xfe"}]}', json_type
    if project == "bad-proxy":
        return 502, HTML_502, "text/html"
    if project == "bad-403":
        return 403, b"<html><body>Request blocked by the corporate proxy</body></html>", "text/html"
    if project == "bad-loop":
        return 200, page("again"), json_type
    if project == "bad-endless":
        return 200, page(f"t{int((token or 't0')[1:]) + 1}", jobs=[]), json_type
    if project == "bad-no-list":
        return 200, b'{"unreachable": ["us-east9"]}', json_type
    return 404, b'{"error": {"code": 404, "status": "NOT_FOUND", "message": "no such project"}}', json_type


class BadApi(http.server.BaseHTTPRequestHandler):
    hits: Counter[str] = Counter()

    def do_POST(self) -> None:  # the token endpoint: any signed assertion gets a token
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send(
            200,
            b'{"access_token": "bad-api-token", "expires_in": 3600, "token_type": "Bearer"}',
            "application/json",
        )

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        project = parts.path.split("/")[3]
        BadApi.hits[project] += 1
        token = parse_qs(parts.query).get("pageToken", [None])[0]
        self._send(*answer(project, token))

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def bad_api() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BadApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def session(bad_api: str, emulator: Emulator, tmp_path: Path) -> Iterator[Session]:
    """A session whose key gets its token from the bad server too (the emulator only lends its key)."""
    key = tmp_path / "key.json"
    key.write_text(json.dumps({**emulator.key_info, "token_uri": f"{bad_api}/token"}))
    auth = {"google": {"type": "service_account", "credentialsfilepath": str(key)}}
    with Session(Options(auth=auth, endpoints={"google": bad_api}, retries=1, timeout=10)) as sess:
        yield sess


def select(session: Session, project: str) -> Any:
    return session.execute(f"SELECT jobId, state FROM google.ml.jobs WHERE projectsId = '{project}'")


UNREADABLE = (
    "google.ml.jobs (projectsId='{}'): the API returned a response skyql cannot read (HTTP 200, page {}): "
)


@pytest.mark.parametrize(
    ("project", "number", "why"),
    [
        ("bad-cut", 1, "malformed JSON (at byte 40 of input: unexpected end of data): the body was cut off"),
        ("bad-cut-page-2", 2, "the body was cut off"),
        ("bad-cut-token", 1, "the page is not valid JSON (Unterminated string"),
        ("bad-type", 1, '"jobs" is a string, not an array'),
        ("bad-array", 1, "the response is an array, not an object"),
        ("bad-html", 1, "the body is HTML, not JSON (a proxy's error or login page?)"),
        ("bad-empty", 1, "the body is empty"),
        ("bad-utf8", 1, "the body is not valid UTF-8"),
    ],
)
def test_a_body_that_is_not_a_list_page_names_resource_partition_status_and_page(
    session, project, number, why
):
    with pytest.raises(ApiError) as err:
        select(session, project)
    message = str(err.value)
    assert message.startswith(UNREADABLE.format(project, number))
    assert why in message
    assert (err.value.http_status, err.value.resource, err.value.params) == (
        200,
        "google.ml.jobs",
        {"projectsId": project},
    )


def test_an_html_error_page_from_a_proxy_is_retried_then_shown_as_text(session):
    with pytest.raises(ApiError) as err:
        select(session, "bad-proxy")
    assert (
        str(err.value)
        == "google.ml.jobs (projectsId='bad-proxy'): HTTP 502: 502 Bad Gateway 502 Bad Gateway nginx"
    )
    assert err.value.http_status == 502
    assert BadApi.hits["bad-proxy"] == 2  # one retry, as asked


def test_an_html_403_from_a_proxy_is_not_retried(session):
    with pytest.raises(
        ApiError, match=r"^google.ml.jobs \(projectsId='bad-403'\): HTTP 403: Request blocked by"
    ):
        select(session, "bad-403")
    assert BadApi.hits["bad-403"] == 1


@pytest.mark.parametrize(
    ("project", "why"),
    [
        ("bad-loop", "page 2 repeated an earlier page token"),
        ("bad-endless", "11 empty pages in a row still pointed to a next page"),
    ],
)
def test_a_page_stream_that_never_ends_is_an_error_not_a_loop(session, project, why):
    with pytest.raises(ApiError) as err:
        select(session, project)
    assert str(err.value) == (
        f"google.ml.jobs (projectsId='{project}'): pagination did not end: {why}; the API is not paging correctly"
    )


def test_a_page_without_its_list_is_an_empty_page(session):
    # Google leaves out empty lists (proto3 JSON), so a page without `jobs` holds no jobs: not an error.
    assert select(session, "bad-no-list").rows == []
