"""Secrets and trust end to end: no token or key in any output, tokens only over https or to loopback, --safe,
and parameter values that cannot leave their path segment."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import skyql
from skyql.cli.main import main
from skyql.dbapi import ProgrammingError
from skyql.emulator import Emulator
from skyql.session import Options, Session

# socket.connect calls seen while `connections()` watches (an audit hook cannot be removed: it stays idle).
_seen: list[Any] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect" and _seen is not None:
        _seen.append(args[1])


sys.addaudithook(_audit)


@contextlib.contextmanager
def connections() -> Iterator[list[Any]]:
    """Every address this process tries to connect to while the block runs."""
    global _seen
    _seen = []
    try:
        yield _seen
    finally:
        _seen = None


def is_local(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str) or host.startswith("/"):
        return True  # a unix socket
    return ipaddress.ip_address(host).is_loopback


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    ttl = emulator.token_ttl
    yield emulator
    emulator.clear_faults()
    emulator.token_ttl = ttl
    emulator.deny("sec-denied", denied=False)


def auth_for(key_file: Path) -> str:
    return json.dumps({"google": {"type": "service_account", "credentialsfilepath": str(key_file)}})


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["exec", *args])
    out, err = capsys.readouterr()
    return status, out, err


# -- secrets ---------------------------------------------------------------------------------------------


def test_no_token_or_key_appears_in_output_errors_dryrun_or_verbose_logs(emu, key_file, capsys, caplog):
    caplog.set_level(logging.DEBUG)  # every library's log, not only skyql's
    emu.populate("ml", "projects/sec-ok/jobs", 3)
    emu.deny("sec-denied")
    flags = ["--auth", auth_for(key_file), "--endpoint", f"google={emu.url}", "--verbose"]
    transcript = []

    def run(sql: str, *extra: str, expect: int) -> None:
        status, out, err = run_cli(capsys, *flags, *extra, sql)
        assert status == expect, err
        transcript.append(out + err)

    run("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sec-ok'", expect=0)
    run("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sec-denied'", expect=1)
    emu.auth.tokens[emu.issued_tokens[-1]] = 0.0  # expired: a 401, a refresh, then success
    run("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sec-ok'", expect=0)
    emu.inject(status=429, count=1, match="projects/sec-ok/", retry_after=0)
    run("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sec-ok'", expect=0)
    run("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sec-ok'", "--dryrun", expect=0)
    run(
        """INSERT INTO google.ml.jobs (projectsId, jobId, trainingInput)
           SELECT 'sec-ok', 'sec_1', '{"region": "us-central1"}'""",
        expect=0,
    )
    run("SELECT nothing FROM google.ml.nowhere WHERE projectsId = 'sec-ok'", expect=1)
    emu.token_ttl = 0  # every token is refused: the 401 is the statement's error
    run("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sec-ok'", expect=1)

    text = "\n".join(transcript) + caplog.text
    # The log really traced the requests, the retry and the refreshes it must keep the tokens out of.
    for shown in (
        "-> HTTP 200",
        "-> HTTP 403",
        "-> HTTP 401",
        "-> HTTP 429",
        "getting an access token",
        "HTTP 401 UNAUTHENTICATED",
        "GET http://127.0.0.1",
    ):
        assert shown in text
    tokens = emu.issued_tokens
    assert len(tokens) >= 3
    leaked = [t for t in tokens if t in text]
    assert not leaked
    private_key = json.loads(key_file.read_text())["private_key"]
    key_lines = [line for line in private_key.splitlines() if line and "PRIVATE KEY" not in line]
    assert not [line for line in key_lines if line in text]
    assert "PRIVATE KEY" not in text and "assertion=" not in text
    # A bearer credential never shows, in a header or anywhere else (WWW-Authenticate's `Bearer realm=` may).
    assert not re.search(r"(?i)bearer\s+(?!realm=)\S", text)
    assert "authorization:" not in text.lower()


def test_an_http_endpoint_on_another_host_is_refused_before_any_connection(key_file, capsys):
    with connections() as seen:
        status, out, err = run_cli(
            capsys,
            "--auth",
            auth_for(key_file),
            "--endpoint",
            "google=http://10.0.0.1:9",
            "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sec-x'",
        )
    assert status == 1 and out == ""
    assert err.startswith("skyql: refusing to send credentials over plain http to http://10.0.0.1:9")
    assert "--insecure" in err
    assert seen == []


def test_insecure_allows_plain_http_to_a_host_that_is_not_loopback(emu, key_file, capsys):
    # 0.0.0.0 is not a loopback address, yet connecting to it reaches this machine: a safe stand-in.
    endpoint = emu.url.replace("127.0.0.1", "0.0.0.0")
    size = emu.populate("ml", "projects/sec-insecure/jobs", 3)
    query = "SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'sec-insecure'"
    refused = run_cli(capsys, "--auth", auth_for(key_file), "--endpoint", f"google={endpoint}", query)
    assert refused[0] == 1 and "refusing to send credentials" in refused[2]
    with connections() as seen:
        status, out, err = run_cli(
            capsys,
            "--auth",
            auth_for(key_file),
            "--endpoint",
            f"google={endpoint}",
            "--insecure",
            "-o",
            "csv",
            "-H",
            query,
        )
    assert status == 0, err
    assert out.strip() == str(size)
    assert seen and all(is_local(a) or a[0] == "0.0.0.0" for a in seen)


# -- --safe ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM read_json_auto('https://example.com/data.json')",
        "SELECT * FROM glob('/etc/*')",
    ],
)
def test_safe_mode_refuses_local_files_and_remote_reads(sql, capsys):
    with connections() as seen:
        status, out, err = run_cli(capsys, "--safe", sql)
    assert status == 1 and out == ""
    assert err.startswith("skyql: file access is disabled in safe mode: ")
    assert seen == []


def test_without_safe_mode_local_files_are_readable(capsys, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    status, out, _ = run_cli(capsys, "-o", "csv", "-H", f"SELECT a + b FROM read_csv('{data}')")
    assert (status, out.strip()) == (0, "3")


def test_connect_safe_refuses_file_access():
    conn = skyql.connect(safe=True, auth={}, endpoints={"google": "http://127.0.0.1:9"})
    with conn, pytest.raises(ProgrammingError, match="file access is disabled in safe mode"):
        conn.cursor().execute("SELECT * FROM read_csv('/etc/passwd')")


# -- parameter values stay inside their path segment ---------------------------------------------------------


def test_a_path_value_with_slashes_and_dots_cannot_reach_another_project(emu, key_file):
    auth = json.loads(auth_for(key_file))
    with Session(Options(auth=auth, endpoints={"google": emu.url})) as session:
        emu.clear_log()
        rows = session.execute(
            "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sec-none/../../demo-project'"
        ).rows
        assert rows == []
        [request] = [r for r in emu.requests if r["path"] != "/token"]
        assert request["path"] == "/v1/projects/sec-none%2F..%2F..%2Fdemo-project/jobs"

        demo_job = session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'demo-project'").rows[
            0
        ][0]
        emu.clear_log()
        # The encoded path names no job (a 404), which a SELECT reads as no rows.
        assert (
            session.execute(
                f"SELECT jobId FROM google.ml.jobs WHERE projectsId = 'x' AND jobsId = '../../demo-project/jobs/{demo_job}'"
            ).rows
            == []
        )
        [request] = [r for r in emu.requests if r["path"] != "/token"]
        assert request["path"] == f"/v1/projects/x/jobs/..%2F..%2Fdemo-project%2Fjobs%2F{demo_job}"
