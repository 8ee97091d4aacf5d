"""DB-API misuse gets a clear error: parameters no API can take, and one cursor shared by threads."""

from __future__ import annotations

import datetime
import decimal
import threading
from collections.abc import Iterator

import pytest

import skyql
from skyql.dbapi import Connection, ProgrammingError
from skyql.emulator import Emulator
from tests.support import auth_for

JOBS = "SELECT jobId FROM google.ml.jobs WHERE projectsId = ? ORDER BY jobId"


@pytest.fixture(scope="module")
def jobs(emulator: Emulator) -> int:
    """How many jobs project sec-dbapi has."""
    return emulator.populate("ml", "projects/sec-dbapi/jobs", 3)


@pytest.fixture
def conn(emulator: Emulator, key_file, jobs) -> Iterator[Connection]:
    with skyql.connect(auth=auth_for(key_file), endpoints={"google": emulator.url}) as connection:
        yield connection


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        decimal.Decimal("NaN"),
        decimal.Decimal("Infinity"),
        decimal.Decimal("sNaN"),
    ],
)
@pytest.mark.parametrize("sql", [JOBS, "SELECT ? AS x"])
def test_nan_and_infinity_are_refused_by_name(conn, value, sql):
    with pytest.raises(
        ProgrammingError, match=r"parameter 1 is .*: JSON and Google APIs have no NaN or infinity"
    ):
        conn.cursor().execute(sql, [value])


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (None, r"google.ml.jobs.projectsId: parameter 1 is None \(SQL NULL, which equals nothing\)"),
        (b"sec-dbapi", r"google.ml.jobs.projectsId: parameter 1 is bytes; API parameters are text"),
        (
            datetime.datetime(2024, 1, 2, 3, 4, 5),
            r"google.ml.jobs.projectsId: parameter 1 is a datetime without a time zone",
        ),
    ],
)
def test_a_value_no_api_takes_is_named_not_reported_as_a_missing_parameter(conn, value, says):
    for sql in (JOBS, "SELECT jobId FROM google.ml.jobs WHERE projectsId IN ('sec-dbapi', ?)"):
        with pytest.raises(ProgrammingError, match=says):
            conn.cursor().execute(sql, [value])


def test_the_same_values_still_work_in_local_sql(conn):
    cur = conn.cursor()
    naive = datetime.datetime(2024, 1, 2, 3, 4, 5)
    cur.execute("SELECT ? AS a, ? AS b, ? AS c", [None, b"ab", naive])
    assert cur.fetchall() == [(None, b"ab", naive)]


def test_an_aware_datetime_or_a_date_is_sent_as_rfc_3339_text(conn, emulator, jobs):
    cur = conn.cursor()
    emulator.clear_log()
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    cur.execute(
        "SELECT jobId FROM google.ml.jobs WHERE projectsId IN ('sec-dbapi', ?, ?)",
        [moment, datetime.date(2024, 1, 2)],
    )
    assert len(cur.fetchall()) == jobs  # the local filter compares text with text: no conversion error
    paths = sorted(r["path"] for r in emulator.requests if r["path"] != "/token")
    assert paths == [
        "/v1/projects/2024-01-02/jobs",
        "/v1/projects/2024-01-02T01%3A04%3A05Z/jobs",
        "/v1/projects/sec-dbapi/jobs",
    ]


def test_a_cursor_refuses_a_second_thread_while_the_first_has_rows_to_fetch(conn, jobs):
    cur = conn.cursor()
    ran, release = threading.Event(), threading.Event()
    seen: list[object] = []

    def first() -> None:
        cur.execute(JOBS, ["sec-dbapi"])
        ran.set()
        release.wait(30)  # alive, its rows not fetched yet
        seen.append(cur.fetchall())

    worker = threading.Thread(target=first, name="worker-1")
    worker.start()
    try:
        assert ran.wait(30)
        with pytest.raises(
            ProgrammingError, match="rows of a statement thread 'worker-1' ran and has not fetched"
        ):
            cur.execute(JOBS, ["demo-project"])
    finally:
        release.set()
        worker.join(30)
    # The first thread's rows were not replaced by the refused statement.
    assert len(seen[0]) == jobs and all(row[0] for row in seen[0])
    # Once they are fetched the cursor may be used by another thread.
    cur.execute(JOBS, ["sec-dbapi"])
    assert len(cur.fetchall()) == jobs


def test_rows_can_be_handed_to_another_thread_to_fetch(conn, jobs):
    cur = conn.cursor()
    worker = threading.Thread(target=lambda: cur.execute(JOBS, ["sec-dbapi"]))
    worker.start()
    worker.join(30)
    assert len(cur.fetchall()) == jobs


def test_mutations_refuse_bytes_for_a_text_field_and_naive_datetimes_for_a_parameter(conn):
    cur = conn.cursor()
    with pytest.raises(ProgrammingError, match=r"name takes text, got bytes: pass a str"):
        cur.execute(
            "INSERT INTO google.sqladmin.users (project, instance, name) SELECT ?, ?, ?",
            ["sec-dbapi", "inst", b"alice"],
        )
    with pytest.raises(ProgrammingError, match="is a datetime without a time zone"):
        cur.execute(
            "UPDATE google.ml.jobs SET labels = '{}' WHERE projectsId = ? AND jobsId = ?",
            [datetime.datetime(2024, 1, 2), "x"],
        )
