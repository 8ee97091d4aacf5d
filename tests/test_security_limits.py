"""A hostile or broken server gets a clear refusal, not the machine's memory: body size, endless lists."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from skyql.cli.main import main
from skyql.errors import ApiError, SqlError
from skyql.session import Options, Session
from tests.support import auth_for

Answer = Callable[[str], tuple[bytes, dict[str, str]]]


@pytest.fixture
def hostile() -> Iterator[Callable[[Answer], str]]:
    """start(answer) -> the URL of a loopback server that answers every GET with answer(path)."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, headers = answer(self.path)
                self.send_response(200)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(
                    OSError
                ):  # the client gave up on this answer: what the test is about
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def gzip_bomb(size: int) -> Answer:
    page = b'{"jobs": [{"jobId": "' + b"a" * size + b'"}]}'
    packed = gzip.compress(page, 9)
    return lambda path: (packed, {"Content-Encoding": "gzip"})


def test_a_small_gzip_body_that_expands_past_the_limit_is_refused_and_named(hostile, key_file, capsys):
    url = hostile(gzip_bomb(3 * 2**20))  # 3 MB of JSON in a few KB of gzip
    query = "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p'"
    args = ["exec", "--auth", json.dumps(auth_for(key_file)), "--endpoint", f"google={url}", "--retries", "0"]
    assert main([*args, "--max-response-mb", "1", query]) == 1
    err = capsys.readouterr().err
    assert "larger than the 1 MB response size limit (counted decompressed)" in err
    assert "--max-response-mb" in err and "Traceback" not in err
    assert main([*args, "--max-response-mb", "4", "-o", "json", query]) == 0  # the limit is adjustable
    assert len(json.loads(capsys.readouterr().out)[0]["jobId"]) == 3 * 2**20


def test_the_response_limit_is_a_connect_option(hostile, key_file):
    import skyql

    url = hostile(gzip_bomb(2 * 2**20))
    query = "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p'"
    with (
        skyql.connect(auth_for(key_file), {"google": url}, max_response_mb=1, retries=0) as conn,
        pytest.raises(skyql.dbapi.Error, match="response size limit"),
    ):
        conn.cursor().execute(query)
    with (
        pytest.raises(skyql.dbapi.Error, match="max_response_mb must be a number of megabytes more than 0"),
        skyql.connect(auth_for(key_file), {"google": url}, max_response_mb=float("nan")) as conn,
    ):
        conn.cursor().execute(query)


def endless() -> Answer:
    counter = itertools.count()
    return lambda path: (
        json.dumps({"jobs": [{"jobId": "j"}], "nextPageToken": f"t{next(counter)}"}).encode(),
        {},
    )


def test_a_list_that_never_stops_paging_is_named_at_the_deadline_not_called_a_timeout(
    hostile, key_file: Path
):
    url = hostile(endless())
    options = Options(auth=auth_for(key_file), endpoints={"google": url}, timeout=1.0)
    with Session(options) as session, pytest.raises(ApiError) as err:
        session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p'")
    message = str(err.value)
    assert "the list was still paging when the 1 s deadline passed" in message
    assert "pages read, each pointing to a next one" in message
    assert "no answer" not in message and "read timeout" not in message


def test_a_list_past_the_page_limit_stops_there(hostile, key_file: Path, monkeypatch):
    monkeypatch.setattr("skyql.fetch.client.MAX_PAGES", 20)
    url = hostile(endless())
    ended = pytest.raises(ApiError, match="pagination did not end: 20 pages, each pointing to a next one")
    with Session(Options(auth=auth_for(key_file), endpoints={"google": url})) as session, ended:
        session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p'")


def test_json_tree_refuses_json_nested_deeper_than_sqlites_limit_instead_of_eating_memory():
    deep, ok = "[" * 5000 + "]" * 5000, "[" * 1000 + "]" * 1000
    with Session(Options()) as session:
        with pytest.raises(SqlError, match="json_tree: the JSON is nested more than 1000 levels deep"):
            session.execute(f"SELECT count(*) FROM json_tree('{deep}')")
        assert session.execute(f"SELECT count(*) FROM json_tree('{ok}')").rows == [(1000,)]
        # Brackets inside strings are text, not depth.
        assert session.execute(f"""SELECT count(*) FROM json_tree('["{deep}"]')""").rows == [(2,)]
