"""Cancelling a statement mid-fetch (Ctrl-C, a DB-API connection closed, Session.cancel) stops every request
and leaves no thread behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import skyql
from skyql.dbapi import OperationalError
from skyql.emulator import Emulator
from skyql.errors import ApiError
from skyql.session import Options, Session
from tests.support import auth_for

SLOW = "rel-cancel"
PAGES = 40  # of 10 jobs; with 100 ms a page, a statement that runs to the end takes 4 s


@pytest.fixture(scope="module")
def slow_project(emulator: Emulator) -> str:
    emulator.populate("ml", f"projects/{SLOW}/jobs", PAGES * 10)
    return SLOW


@pytest.fixture
def slow(emulator: Emulator, slow_project: str) -> Iterator[Emulator]:
    """The emulator answering every call 100 ms late, with a project of 40 pages."""
    emulator.latency_ms = 100
    yield emulator
    emulator.latency_ms = 0


def pages_asked(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if f"/projects/{SLOW}/jobs" in r["path"])


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, "timed out waiting"
        time.sleep(0.01)


def assert_no_more_requests(emu: Emulator) -> None:
    """Nothing reaches the emulator once the statement was stopped (a request in flight may still land)."""
    time.sleep(0.05)
    settled = pages_asked(emu)
    time.sleep(0.4)
    assert pages_asked(emu) == settled < PAGES


QUERY = f"SELECT count(*) FROM google.ml.jobs WHERE projectsId = '{SLOW}'"


def test_ctrl_c_stops_skyql_exec_promptly_with_status_130(slow, key_file):
    slow.clear_log()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skyql.cli.main",
            "exec",
            "--auth",
            json.dumps(auth_for(key_file)),
            "--endpoint",
            f"google={slow.url}",
            "--page-size",
            "10",
            QUERY,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: pages_asked(slow) >= 2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert (out, err) == ("", "skyql: cancelled\n")
    assert_no_more_requests(slow)


def test_closing_a_dbapi_connection_mid_fetch_stops_the_statement_and_its_threads(slow, key_file):
    before = set(threading.enumerate())
    conn = skyql.connect(auth=auth_for(key_file), endpoints={"google": slow.url}, page_size=10)
    outcome: list[BaseException | tuple] = []

    def run() -> None:
        try:
            outcome.append(conn.cursor().execute(QUERY).fetchone())
        except BaseException as err:  # noqa: BLE001 - the test inspects whatever ends the statement
            outcome.append(err)

    worker = threading.Thread(target=run)
    slow.clear_log()
    worker.start()
    wait_for(lambda: pages_asked(slow) >= 2)
    conn.close()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], OperationalError)
    assert "cancelled" in str(outcome[0])
    assert_no_more_requests(slow)
    wait_for(lambda: not set(threading.enumerate()) - before, seconds=2)


def test_session_cancel_from_another_thread_leaves_the_session_usable(slow, key_file):
    with Session(Options(auth=auth_for(key_file), endpoints={"google": slow.url}, page_size=10)) as session:
        session.execute("SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'demo-project'")
        before = set(threading.enumerate())
        slow.clear_log()
        canceller = threading.Thread(
            target=lambda: (wait_for(lambda: pages_asked(slow) >= 2), session.cancel())
        )
        canceller.start()
        with pytest.raises(ApiError, match="^cancelled: ") as err:
            session.execute(QUERY)
        assert err.value.status == "CANCELLED"
        canceller.join()
        assert_no_more_requests(slow)
        # No thread the statement started may outlive it (threads that ended meanwhile are fine).
        wait_for(lambda: not set(threading.enumerate()) - before, seconds=2)
        # A cancel is for the statement running at the time, not for the next one.
        slow.latency_ms = 0
        assert session.execute(QUERY).rows == [(PAGES * 10,)]


def test_session_cancel_interrupts_a_long_local_query(emulator, key_file):
    with Session(Options(auth=auth_for(key_file), endpoints={"google": emulator.url})) as session:
        assert session.execute("SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'demo-project'").rows
        # Every one of the ~10^13 hashes must be computed: no optimizer (DuckDB 1.x or 2.x) can shortcut a sum of
        # hashes, so the statement ends only when interrupted.
        slow_sql = (
            "SELECT sum(hash(r.range, j.jobId)) FROM google.ml.jobs j, range(10000000000000) r "
            "WHERE j.projectsId = 'demo-project'"
        )
        outcome: list[BaseException] = []

        def run() -> None:
            try:
                session.execute(slow_sql)
            except BaseException as err:  # noqa: BLE001 - the test inspects whatever ends the statement
                outcome.append(err)

        worker = threading.Thread(target=run)
        worker.start()
        wait_for(
            lambda: session._local_sql, seconds=120
        )  # the pages are loaded and DuckDB is running the join
        session.cancel()
        worker.join(timeout=120)
        assert not worker.is_alive(), "cancel() did not stop the local query"
        assert len(outcome) == 1 and isinstance(outcome[0], ApiError)
        assert str(outcome[0]).startswith(
            "cancelled: the statement was stopped while DuckDB ran its local SQL"
        )
        assert outcome[0].status == "CANCELLED"
        assert session.execute("SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'demo-project'").rows
