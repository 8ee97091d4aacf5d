"""SQLite's functions and semantics in a real SELECT against the emulator, as StackQL users write them."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from skyql.emulator import Emulator
from skyql.session import Options, Session
from tests.support import auth_for

PROJECT = "sqlite-e2e"
JOBS = [
    ("job_a", "RUNNING", "2024-05-05T08:30:51Z", {"team": "vision"}),
    ("job_b", "RUNNING", "2024-05-06T00:00:00Z", {"team": "nlp"}),
    ("job_c", "FAILED", "2024-01-31T23:59:59Z", {"team": "vision"}),
    ("job_d", "SUCCEEDED", "2023-12-25T12:00:00Z", {}),
    ("job_e", "FAILED", "2024-02-29T06:15:00Z", {"team": "nlp"}),
]


@pytest.fixture(scope="module")
def jobs(emulator: Emulator) -> str:
    for job_id, state, created, labels in JOBS:
        emulator.add(
            "ml",
            f"projects/{PROJECT}/jobs",
            {"jobId": job_id, "state": state, "createTime": created, "labels": labels},
        )
    return PROJECT


@pytest.fixture
def session(emulator: Emulator, key_file: Path) -> Iterator[Session]:
    with Session(Options(auth=auth_for(key_file), endpoints={"google": emulator.url})) as sess:
        yield sess


def test_two_argument_max_is_scalar_one_row_per_job(session, jobs):
    result = session.execute(
        f"SELECT jobId, max(jobId, state) AS hi, min(jobId, state) AS lo FROM google.ml.jobs "
        f"WHERE projectsId = '{jobs}' ORDER BY jobId"
    )
    assert len(result.rows) == 5
    assert result.rows[0] == ("job_a", "job_a", "RUNNING")


def test_double_quoted_text_that_names_no_column_is_a_string(session, jobs):
    result = session.execute(
        f'SELECT jobId, "seen" AS mark FROM google.ml.jobs WHERE projectsId = "{jobs}" AND state = "RUNNING" '
        'ORDER BY "jobId"'
    )
    assert result.rows == [("job_a", "seen"), ("job_b", "seen")]
    bare = session.execute(f"SELECT \"hello\", state FROM google.ml.jobs WHERE projectsId = '{jobs}' LIMIT 1")
    assert bare.columns == ["hello", "state"] and bare.rows[0][0] == "hello"


def test_a_bare_column_beside_group_by_comes_from_a_row_of_its_group(session, jobs):
    result = session.execute(
        f"SELECT state, jobId, count(*) AS n FROM google.ml.jobs WHERE projectsId = '{jobs}' GROUP BY state "
        "ORDER BY state"
    )
    got = {state: (job, n) for state, job, n in result.rows}
    assert got["SUCCEEDED"] == ("job_d", 1)
    assert got["RUNNING"][0] in {"job_a", "job_b"} and got["RUNNING"][1] == 2
    newest = session.execute(f"SELECT max(createTime), jobId FROM google.ml.jobs WHERE projectsId = '{jobs}'")
    assert newest.rows[0][1] == "job_b"  # SQLite: from the row holding the max
    assert result.columns == ["state", "jobId", "n"]


def test_sqlite_date_functions_read_google_timestamps(session, jobs):
    result = session.execute(
        "SELECT jobId, strftime('%s', createTime) AS epoch, julianday(createTime) AS jd,"
        " date(createTime, 'start of month', '+1 month', '-1 day') AS month_end, time(createTime) AS at,"
        " strftime('%s', 'now') - strftime('%s', createTime) AS age"
        f" FROM google.ml.jobs WHERE projectsId = '{jobs}' AND jobId = 'job_e'"
    )
    job_id, epoch, jd, month_end, at, age = result.rows[0]
    created = dt.datetime(2024, 2, 29, 6, 15, tzinfo=dt.UTC)
    assert epoch == str(calendar.timegm(created.timetuple()))
    assert jd == pytest.approx(2460369.7604166665)
    assert (month_end, at) == ("2024-02-29", "06:15:00")
    assert isinstance(age, int) and age > 0
    assert result.columns[1] == "epoch"


def test_timestamps_compare_with_sqlite_datetime_and_date(session, jobs):
    result = session.execute(
        f"SELECT jobId FROM google.ml.jobs WHERE projectsId = '{jobs}'"
        " AND createTime >= datetime('2024-05-05 08:30:51') AND date(createTime) < date('now') ORDER BY jobId"
    )
    assert result.rows == [("job_a",), ("job_b",)]


def test_group_concat_total_and_like_as_in_sqlite(session, jobs):
    result = session.execute(
        "SELECT json_extract(labels, '$.team') AS team, group_concat(jobId, '|') AS ids, total(1) AS n"
        f" FROM google.ml.jobs WHERE projectsId = '{jobs}' AND state LIKE 'running' GROUP BY 1 ORDER BY 1"
    )
    assert result.rows == [("nlp", "job_b", 1.0), ("vision", "job_a", 1.0)]
    division = session.execute(
        f"SELECT count(*) / 2, count(*) * 1.0 / 2 FROM google.ml.jobs WHERE projectsId = '{jobs}'"
    )
    assert division.rows == [(2, 2.5)]


def test_ifnull_and_coalesce_with_a_text_fallback_read_an_object_column_as_text(session, jobs):
    # StackQL's docs: SELECT name, ifnull(website, 'Not hosting a website') FROM google.storage.buckets ...
    result = session.execute(
        f"SELECT jobId, ifnull(labels, 'no labels') AS l, coalesce(json_extract(labels, '$.team'), 'nobody') AS t "
        f"FROM google.ml.jobs WHERE projectsId = '{jobs}' AND jobId IN ('job_a', 'job_d') ORDER BY jobId"
    )
    assert result.rows == [("job_a", '{"team":"vision"}', "vision"), ("job_d", "{}", "nobody")]


def test_a_number_read_from_json_in_a_subquery_compares_with_a_number(session, jobs):
    # As stackql-jupyter-demo's quota audit: ... FROM (SELECT json_extract(rq.value, '$.usage') AS usage ...)
    # WHERE usage > 0.
    result = session.execute(
        "SELECT name FROM (SELECT jobId AS name, json_extract(json_object('n', length(jobId) - 4), '$.n') AS n "
        f"FROM google.ml.jobs WHERE projectsId = '{jobs}') t WHERE n > 0 ORDER BY name LIMIT 2"
    )
    assert result.rows == [("job_a",), ("job_b",)]
