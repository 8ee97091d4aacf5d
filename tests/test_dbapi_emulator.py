"""The DB-API and the SQLAlchemy dialect end to end: real HTTP, auth and paging against the local emulator."""

from __future__ import annotations

import asyncio
import datetime
import json
import urllib.parse

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

import skyql
import skyql.dbapi as dbapi
from skyql.errors import ApiError

JOBS = "SELECT jobId, state FROM google.ml.jobs WHERE projectsId = ?"


@pytest.fixture
def auth(key_file):
    return {"google": {"type": "service_account", "credentialsfilepath": str(key_file)}}


@pytest.fixture
def conn(emulator, auth):
    connection = skyql.connect(auth=auth, endpoints={"google": emulator.url})
    yield connection
    connection.close()


def api_jobs(emulator, access_token, project: str = "demo-project") -> list[dict]:
    """The jobs the emulator holds, read with a plain HTTP client, following pages."""
    jobs, token = [], None
    while True:
        params = {"pageToken": token} if token else {}
        reply = httpx.get(
            f"{emulator.url}/v1/projects/{project}/jobs",
            params=params,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        reply.raise_for_status()
        body = reply.json()
        jobs += body.get("jobs", [])
        token = body.get("nextPageToken")
        if not token:
            return jobs


def test_select_with_a_qmark_provider_parameter_returns_the_api_rows(conn, emulator, access_token):
    cur = conn.cursor()
    cur.execute(JOBS, ["demo-project"])
    rows = cur.fetchall()
    expected = [(j["jobId"], j["state"]) for j in api_jobs(emulator, access_token)]
    assert sorted(rows) == sorted(expected) and rows
    assert cur.rowcount == len(expected)
    assert [(d[0], d[1]) for d in cur.description] == [("jobId", "VARCHAR"), ("state", "VARCHAR")]


def test_fetch_df_has_typed_timestamps_and_json_text(conn, emulator, access_token):
    cur = conn.cursor()
    cur.execute(
        "SELECT jobId, createTime, labels FROM google.ml.jobs WHERE projectsId = ? ORDER BY jobId",
        ["demo-project"],
    )
    df = cur.fetch_df()
    expected = sorted(api_jobs(emulator, access_token), key=lambda j: j["jobId"])
    assert df["jobId"].tolist() == [j["jobId"] for j in expected]
    assert str(df["createTime"].dt.tz) == "UTC"
    assert [t.to_pydatetime() for t in df["createTime"]] == [
        datetime.datetime.fromisoformat(j["createTime"].replace("Z", "+00:00")) for j in expected
    ]
    assert [None if v is None else json.loads(v) for v in df["labels"]] == [j.get("labels") for j in expected]


def test_api_errors_are_operational_errors_with_the_http_status(conn, emulator):
    emulator.deny("dbapi-denied")
    try:
        with pytest.raises(dbapi.OperationalError, match="PERMISSION_DENIED") as info:
            conn.cursor().execute(JOBS, ["dbapi-denied"])
    finally:
        emulator.deny("dbapi-denied", denied=False)
    assert isinstance(info.value.__cause__, ApiError)
    assert info.value.__cause__.http_status == 403


def test_the_skyql_module_itself_is_a_pep_249_module(conn, emulator):
    # Code written against the PEP reads the module it imported, and catches its classes.
    assert (skyql.apilevel, skyql.threadsafety, skyql.paramstyle) == ("2.0", 2, "qmark")
    for name in dbapi.__all__:
        assert getattr(skyql, name) is getattr(dbapi, name), name
    assert issubclass(skyql.Error, skyql.SkyqlError)
    emulator.deny("dbapi-module-denied")
    try:
        with pytest.raises(skyql.OperationalError, match="PERMISSION_DENIED"):
            conn.cursor().execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'dbapi-module-denied'")
    finally:
        emulator.deny("dbapi-module-denied", denied=False)


def test_mutations_report_affected_rows_and_a_duplicate_create_is_an_integrity_error(conn):
    cur = conn.cursor()
    insert = "INSERT INTO google.ml.jobs (projectsId, data__jobId, data__trainingInput) SELECT ?, ?, ?"
    params = ["dbapi-writes", "job_dbapi_1", '{"region": "us-central1"}']
    cur.execute(insert, params)
    assert cur.rowcount == 1
    assert cur.description is None
    assert "inserted" in cur.statusmessage
    with pytest.raises(dbapi.IntegrityError, match="already exists"):
        cur.execute(insert, params)
    # A dict parameter is bound as its JSON text, so a body field can come straight from Python.
    cur.execute(
        "UPDATE google.ml.jobs SET labels = ? WHERE projectsId = ? AND jobsId = ?",
        [{"team": "ml"}, "dbapi-writes", "job_dbapi_1"],
    )
    assert cur.rowcount == 1
    cur.execute("SELECT jobId, labels FROM google.ml.jobs WHERE projectsId = ?", ["dbapi-writes"])
    assert [(job, json.loads(labels)) for job, labels in cur] == [("job_dbapi_1", {"team": "ml"})]


def test_executemany_creates_one_resource_per_parameter_set(conn):
    cur = conn.cursor()
    cur.executemany(
        "INSERT INTO google.ml.jobs (projectsId, data__jobId, data__trainingInput) SELECT ?, ?, '{}'",
        [["dbapi-many", f"job_many_{i}"] for i in range(3)],
    )
    assert cur.rowcount == 3
    cur.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = ? ORDER BY jobId", ["dbapi-many"])
    assert cur.fetchall() == [("job_many_0",), ("job_many_1",), ("job_many_2",)]


def test_partitions_left_out_under_allow_partial_are_reported_in_messages(emulator, auth):
    emulator.deny("dbapi-partial")
    try:
        with skyql.connect(auth=auth, endpoints={"google": emulator.url}, allow_partial=True) as connection:
            cur = connection.cursor()
            cur.execute(
                "SELECT jobId FROM google.ml.jobs WHERE projectsId IN (?, ?)",
                ["demo-project", "dbapi-partial"],
            )
            assert cur.rowcount > 0
            assert [cls for cls, _ in cur.messages] == [dbapi.Warning]
            assert "dbapi-partial" in str(cur.messages[0][1])
    finally:
        emulator.deny("dbapi-partial", denied=False)


def test_queries_run_from_inside_an_event_loop(conn, emulator, access_token):
    async def notebook_cell():
        return conn.cursor().execute(JOBS, ["demo-project"]).fetchall()

    rows = asyncio.run(notebook_cell())
    assert sorted(rows) == sorted((j["jobId"], j["state"]) for j in api_jobs(emulator, access_token))


def test_connect_with_emulator_starts_one_and_close_stops_it():
    connection = skyql.connect(emulator=True)
    url = connection.session.emulator.url
    rows = connection.cursor().execute(JOBS, ["demo-project"]).fetchall()
    assert len(rows) == 5
    connection.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_emulator/health", timeout=2)


def test_pandas_read_sql_through_a_skyql_url_with_endpoint_and_auth(emulator, auth, access_token):
    url = f"skyql://?endpoint={emulator.url}&auth={urllib.parse.quote(json.dumps(auth))}"
    engine = sa.create_engine(url)
    try:
        df = pd.read_sql(JOBS + " ORDER BY jobId", engine, params=("demo-project",))
    finally:
        engine.dispose()
    expected = sorted((j["jobId"], j["state"]) for j in api_jobs(emulator, access_token))
    assert list(df.columns) == ["jobId", "state"]
    assert [tuple(r) for r in df.itertuples(index=False)] == expected


def test_sqlalchemy_core_select_on_a_reflected_resource(emulator, auth, access_token):
    engine = sa.create_engine(f"skyql://?endpoint={emulator.url}&auth={urllib.parse.quote(json.dumps(auth))}")
    try:
        jobs = sa.Table("jobs", sa.MetaData(), schema="google.ml", autoload_with=engine)
        query = (
            sa.select(jobs.c.jobId, jobs.c.state)
            .where(jobs.c.projectsId == "demo-project")
            .order_by(jobs.c.jobId)
            .limit(2)
        )
        with engine.connect() as c:
            rows = [tuple(r) for r in c.execute(query)]
    finally:
        engine.dispose()
    assert rows == sorted((j["jobId"], j["state"]) for j in api_jobs(emulator, access_token))[:2]
