"""SELECT end to end: Session and CLI against the local emulator, checked on rows and on the requests sent."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyql.emulator import Emulator
from skyql.errors import ApiError, ParameterError, SqlError
from skyql.session import Options, Session
from tests.support import auth_for

MANY = "sel-many"
MANY_JOBS = 523
CAP = 50  # the emulator's default page-size cap
LOCATIONS = {"us-central1": 3, "europe-west4": 60, "asia-east1": 7}


@pytest.fixture(scope="module")
def many(emulator: Emulator) -> str:
    """A project holding 523 ml jobs: 11 pages at the emulator's cap of 50."""
    emulator.populate("ml", f"projects/{MANY}/jobs", MANY_JOBS)
    return MANY


@pytest.fixture
def session(emulator: Emulator, key_file: Path) -> Iterator[Session]:
    with Session(Options(auth=auth_for(key_file), endpoints={"google": emulator.url})) as sess:
        yield sess


def calls(emulator: Emulator, fragment: str, method: str = "GET") -> list[dict[str, Any]]:
    """The logged API requests whose path contains `fragment`."""
    return [r for r in emulator.requests if r["method"] == method and fragment in r["path"]]


def job(job_id: str, state: str = "SUCCEEDED", **fields: Any) -> dict[str, Any]:
    return {"jobId": job_id, "state": state, "createTime": "2024-12-01T10:00:00Z", **fields}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyql.cli.main", "exec", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


# -- paging, fan-out, method choice ---------------------------------------------------------------


def test_count_over_many_pages_is_exact_and_reads_each_page_once(session, emulator, many):
    emulator.clear_log()
    result = session.execute(f"SELECT count(*) AS n FROM google.ml.jobs WHERE projectsId = '{many}'")
    assert result.rows == [(MANY_JOBS,)]
    pages = calls(emulator, f"/v1/projects/{many}/jobs")
    assert len(pages) == math.ceil(MANY_JOBS / CAP) == 11
    tokens = [r["query"].get("pageToken", [None])[0] for r in pages]
    assert tokens[0] is None
    assert len(set(tokens)) == len(tokens)  # no page read twice


def test_an_in_list_of_locations_reads_one_stream_per_location_at_its_regional_host(session, emulator):
    for location, count in LOCATIONS.items():
        emulator.populate(
            "aiplatform", f"projects/sel-fan/locations/{location}/hyperparameterTuningJobs", count
        )
    emulator.clear_log()
    in_list = ", ".join(f"'{loc}'" for loc in LOCATIONS)
    result = session.execute(
        "SELECT locationsId, count(*) AS n FROM google.aiplatform.hyperparameter_tuning_jobs "
        f"WHERE projectsId = 'sel-fan' AND locationsId IN ({in_list}) GROUP BY locationsId"
    )
    assert dict(result.rows) == LOCATIONS
    for location, count in LOCATIONS.items():
        stream = calls(emulator, f"/v1/projects/sel-fan/locations/{location}/hyperparameterTuningJobs")
        assert len(stream) == math.ceil(count / CAP)
        assert {r["host"] for r in stream} == {f"{location}-aiplatform.googleapis.com"}


def test_giving_the_job_id_reads_that_job_with_one_get(session, emulator):
    for name in ("job_get_me", "job_other_1", "job_other_2"):
        emulator.add(
            "ml", "projects/sel-get/jobs", job(name, state="QUEUED" if name == "job_get_me" else "FAILED")
        )
    emulator.clear_log()
    result = session.execute(
        "SELECT jobId, state FROM google.ml.jobs WHERE projectsId = 'sel-get' AND jobsId = 'job_get_me'"
    )
    assert result.rows == [("job_get_me", "QUEUED")]
    assert [r["path"] for r in calls(emulator, "/v1/projects/sel-get/")] == [
        "/v1/projects/sel-get/jobs/job_get_me"
    ]


def test_a_join_on_iam_policies_calls_getiampolicy_once_per_running_job(session, emulator):
    states = {
        "job_r1": "RUNNING",
        "job_r2": "RUNNING",
        "job_r3": "RUNNING",
        "job_s1": "SUCCEEDED",
        "job_f1": "FAILED",
    }
    for name, state in states.items():
        emulator.add("ml", "projects/sel-join/jobs", job(name, state))
    emulator.clear_log()
    result = session.execute(
        "SELECT j.jobId, j.state, p.role, p.members FROM google.ml.jobs j JOIN google.ml.jobs_iam_policies p "
        "ON p.projectsId = j.projectsId AND p.jobsId = j.jobId "
        "WHERE j.projectsId = 'sel-join' AND j.state = 'RUNNING' ORDER BY j.jobId, p.role"
    )
    running = sorted(n for n, s in states.items() if s == "RUNNING")
    assert sorted({row[0] for row in result.rows}) == running
    assert {row[1] for row in result.rows} == {"RUNNING"}
    # The emulator's default policy has an owner and a viewer binding: two rows per job.
    assert Counter(row[0] for row in result.rows) == dict.fromkeys(running, 2)
    assert all(isinstance(json.loads(row[3]), list) for row in result.rows)
    policy_calls = calls(emulator, ":getIamPolicy")
    assert sorted(r["path"] for r in policy_calls) == [
        f"/v1/projects/sel-join/jobs/{n}:getIamPolicy" for n in running
    ]


def test_the_same_resource_read_twice_with_the_same_parameters_is_fetched_once(session, emulator, many):
    emulator.clear_log()
    result = session.execute(
        "SELECT count(*), count(DISTINCT b.state) FROM google.ml.jobs a JOIN google.ml.jobs b ON a.jobId = b.jobId "
        f"WHERE a.projectsId = '{many}' AND b.projectsId = '{many}'"
    )
    assert result.rows[0][0] == MANY_JOBS
    assert len(calls(emulator, f"/v1/projects/{many}/jobs")) == math.ceil(MANY_JOBS / CAP)


def test_a_limit_on_a_plain_scan_stops_reading_pages_early(session, emulator, many):
    emulator.clear_log()
    result = session.execute(f"SELECT jobId FROM google.ml.jobs WHERE projectsId = '{many}' LIMIT 60")
    assert len(result.rows) == 60
    read = len(calls(emulator, f"/v1/projects/{many}/jobs"))
    # Two pages hold 60 rows; one more may already be in flight when the second arrives.
    assert 2 <= read < math.ceil(MANY_JOBS / CAP) // 2


def test_fields_pushdown_asks_for_the_used_columns_only_and_changes_no_answer(emulator, key_file, many):
    query = (
        f"SELECT jobId, state FROM google.ml.jobs WHERE projectsId = '{many}' "
        "AND createTime > TIMESTAMP '2024-06-01' ORDER BY jobId"
    )
    answers = {}
    for pushdown in (True, False):
        emulator.clear_log()
        options = Options(auth=auth_for(key_file), endpoints={"google": emulator.url}, pushdown=pushdown)
        with Session(options) as sess:
            answers[pushdown] = sess.execute(query).rows
        masks = {tuple(r["query"].get("fields", [])) for r in calls(emulator, f"/v1/projects/{many}/jobs")}
        expected = {("nextPageToken,jobs(createTime,jobId,state)",)} if pushdown else {()}
        assert masks == expected
    assert answers[True] == answers[False]
    assert 0 < len(answers[True]) < MANY_JOBS


# -- local SQL over the fetched rows ---------------------------------------------------------------


@pytest.fixture(scope="module")
def json_jobs(emulator: Emulator) -> str:
    rows = [
        ("job_j1", {"team": "a", "env": "prod"}, ["--epochs", "3"], 50.5),
        ("job_j2", {"team": "a"}, ["--epochs", "3", "--lr", "0.1"], 150),
        ("job_j3", {"team": "b", "env": "dev", "owner": "kim"}, [], 1000.25),
    ]
    for name, labels, args, units in rows:
        emulator.add(
            "ml",
            "projects/sel-json/jobs",
            job(
                name,
                labels=labels,
                trainingInput={"args": args, "region": "us-central1"},
                trainingOutput={"consumedMLUnits": units},
            ),
        )
    return "sel-json"


def test_json_extract_compares_as_text_with_strings_and_as_numbers_with_numbers(session, json_jobs):
    where = f"FROM google.ml.jobs WHERE projectsId = '{json_jobs}'"
    team_a = session.execute(f"SELECT jobId {where} AND json_extract(labels, '$.team') = 'a' ORDER BY 1")
    assert team_a.rows == [("job_j1",), ("job_j2",)]
    # '50.5' > '100' as text: a numeric comparison must leave job_j1 out.
    big = session.execute(
        f"SELECT jobId {where} AND json_extract(trainingOutput, '$.consumedMLUnits') > 100 ORDER BY 1"
    )
    assert big.rows == [("job_j2",), ("job_j3",)]


def test_json_array_length_and_json_each_unnest_job_fields(session, json_jobs):
    lengths = session.execute(
        "SELECT jobId, json_array_length(json_extract(trainingInput, '$.args')) FROM google.ml.jobs "
        f"WHERE projectsId = '{json_jobs}' ORDER BY 1"
    )
    assert lengths.rows == [("job_j1", 2), ("job_j2", 4), ("job_j3", 0)]
    labels = session.execute(
        "SELECT j.jobId, e.key, e.value FROM google.ml.jobs j, json_each(j.labels) e "
        f"WHERE j.projectsId = '{json_jobs}' ORDER BY 1, 2"
    )
    assert labels.rows == [
        ("job_j1", "env", "prod"),
        ("job_j1", "team", "a"),
        ("job_j2", "team", "a"),
        ("job_j3", "env", "dev"),
        ("job_j3", "owner", "kim"),
        ("job_j3", "team", "b"),
    ]


def test_columns_by_regex_reads_the_matching_columns_from_the_api(session, emulator, json_jobs):
    emulator.clear_log()
    result = session.execute(
        f"SELECT COLUMNS('.*Time') FROM google.ml.jobs WHERE projectsId = '{json_jobs}' AND jobId = 'job_j1'"
    )
    assert result.columns == ["createTime", "endTime", "startTime"]
    assert result.rows[0][0] == dt.datetime(2024, 12, 1, 10, tzinfo=dt.UTC)
    # The columns are only known once DuckDB expands the regex: no `fields` mask may leave them out.
    assert [r["query"].get("fields") for r in calls(emulator, f"/v1/projects/{json_jobs}/jobs")] == [None]


def test_parameter_columns_can_be_selected_filtered_and_grouped(session, many, json_jobs):
    result = session.execute(
        "SELECT projectsId, count(*) AS n FROM google.ml.jobs "
        f"WHERE projectsId IN ('{many}', '{json_jobs}') GROUP BY projectsId ORDER BY projectsId"
    )
    assert result.rows == [(json_jobs, 3), (many, MANY_JOBS)]
    assert result.columns == ["projectsId", "n"]


def test_timestamp_filters_relative_to_now_compare_with_the_api_timestamps(session, emulator):
    now = dt.datetime.now(dt.UTC)
    for name, age in (("job_recent", 10), ("job_old", 1000)):
        created = (now - dt.timedelta(days=age)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        emulator.add("ml", "projects/sel-time/jobs", job(name, createTime=created))
    result = session.execute(
        "SELECT jobId, createTime FROM google.ml.jobs WHERE projectsId = 'sel-time' "
        "AND createTime > now() - INTERVAL 400 DAY"
    )
    assert [row[0] for row in result.rows] == ["job_recent"]
    assert result.rows[0][1].tzinfo is not None
    older = session.execute(
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sel-time' AND createTime < now() - INTERVAL 400 DAY"
    )
    assert older.rows == [("job_old",)]


# -- errors ----------------------------------------------------------------------------------------


def test_a_missing_required_parameter_says_which_and_sends_nothing(session, emulator):
    emulator.clear_log()
    with pytest.raises(ParameterError) as caught:
        session.execute(
            "SELECT name FROM google.aiplatform.hyperparameter_tuning_jobs WHERE projectsId = 'p'"
        )
    assert "needs locationsId and projectsId in WHERE; got projectsId" in str(caught.value)
    assert "locationsId IN (" in str(caught.value)
    assert calls(emulator, "/v1/") == []


def test_an_unknown_column_is_named_against_the_resource_not_the_loaded_columns(session):
    with pytest.raises(SqlError) as caught:
        session.execute(
            "SELECT displayName, trialCount FROM google.aiplatform.hyperparameter_tuning_jobs "
            "WHERE projectsId = 'demo-project' AND locationsId = 'us-central1'"
        )
    assert str(caught.value) == (
        "unknown column trialCount: google.aiplatform.hyperparameter_tuning_jobs has no column or parameter of"
        " that name (did you mean maxTrialCount, parallelTrialCount, trials?);"
        " DESCRIBE google.aiplatform.hyperparameter_tuning_jobs lists them"
    )
    with pytest.raises(
        SqlError,
        match="none of google.ml.jobs, google.ml.jobs_iam_policies has a column or "
        r"parameter of that name \(did you mean role\?\)",
    ):
        session.execute(
            "SELECT j.jobId, p.rol FROM google.ml.jobs j JOIN google.ml.jobs_iam_policies p "
            "ON p.projectsId = j.projectsId AND p.jobsId = j.jobId WHERE j.projectsId = 'demo-project'"
        )
    # A real column a CTE did not pass on: DuckDB's own words are the right ones.
    with pytest.raises(SqlError, match='Referenced column "jobId" not found'):
        session.execute(
            "WITH x AS (SELECT state FROM google.ml.jobs WHERE projectsId = 'demo-project') "
            "SELECT jobId FROM x"
        )


def test_a_denied_project_among_several_fails_with_a_403_naming_it(session, emulator, many, json_jobs):
    emulator.deny("sel-denied")
    try:
        with pytest.raises(ApiError) as caught:
            session.execute(
                f"SELECT count(*) FROM google.ml.jobs WHERE projectsId IN ('{many}', 'sel-denied', '{json_jobs}')"
            )
    finally:
        emulator.deny("sel-denied", denied=False)
    message = str(caught.value)
    assert "sel-denied" in message and "403" in message and "PERMISSION_DENIED" in message
    assert many not in message and json_jobs not in message


# -- auth ------------------------------------------------------------------------------------------


def test_a_key_file_gets_its_token_from_the_emulator_and_every_call_carries_it(emulator, key_file, json_jobs):
    issued = len(emulator.issued_tokens)
    emulator.clear_log()
    with Session(Options(auth=auth_for(key_file), endpoints={"google": emulator.url})) as sess:
        assert sess.execute(f"SELECT count(*) FROM google.ml.jobs WHERE projectsId = '{json_jobs}'").rows == [
            (3,)
        ]
    token_calls = [r for r in emulator.requests if r["path"] == "/token"]
    assert len(token_calls) == 1 and token_calls[0]["status"] == 200
    assert token_calls[0]["body"]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert token_calls[0]["body"]["assertion"] == "<redacted>"
    assert len(emulator.issued_tokens) == issued + 1
    # The emulator requires a valid bearer token: a 200 on the list shows it was sent.
    assert [r["status"] for r in calls(emulator, f"/v1/projects/{json_jobs}/jobs")] == [200]


def test_the_google_credentials_variable_is_used_when_no_auth_is_given(
    emulator, key_file, json_jobs, monkeypatch
):
    monkeypatch.setenv("GOOGLE_CREDENTIALS", key_file.read_text())
    emulator.clear_log()
    with Session(Options(endpoints={"google": emulator.url})) as sess:
        assert sess.execute(f"SELECT count(*) FROM google.ml.jobs WHERE projectsId = '{json_jobs}'").rows == [
            (3,)
        ]
    assert [r["status"] for r in emulator.requests if r["path"] == "/token"] == [200]


# -- the command line ------------------------------------------------------------------------------


def test_cli_json_output_keeps_numbers_objects_and_timestamps_apart(emulator, key_file, json_jobs):
    done = cli(
        "--endpoint",
        f"google={emulator.url}",
        "--auth",
        json.dumps(auth_for(key_file)),
        "-o",
        "json",
        "SELECT jobId, labels, trainingOutput, createTime, json_array_length(json_extract(trainingInput, '$.args'))"
        f" AS nargs FROM google.ml.jobs WHERE projectsId = '{json_jobs}' AND jobId = 'job_j2'",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {
            "jobId": "job_j2",
            "labels": {"team": "a"},
            "trainingOutput": {"consumedMLUnits": 150},
            "createTime": "2024-12-01T10:00:00+00:00",
            "nargs": 4,
        }
    ]


def test_cli_missing_parameter_exits_1_with_the_message_on_stderr(emulator, key_file):
    done = cli(
        "--endpoint",
        f"google={emulator.url}",
        "--auth",
        json.dumps(auth_for(key_file)),
        "SELECT name FROM google.aiplatform.hyperparameter_tuning_jobs WHERE projectsId = 'demo-project'",
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "needs locationsId and projectsId in WHERE; got projectsId" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_emulator_flag_runs_the_readme_query():
    done = cli(
        "--emulator",
        "-o",
        "json",
        "SELECT locationsId, state, count(*) AS jobs FROM google.aiplatform.hyperparameter_tuning_jobs "
        "WHERE projectsId = 'demo-project' AND locationsId IN ('us-central1', 'europe-west4') "
        "GROUP BY ALL ORDER BY ALL",
        env={"SKYQL_AUTH": "", "SKYQL_ENDPOINT_GOOGLE": ""},
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {row["locationsId"] for row in rows} == {"us-central1", "europe-west4"}
    assert sum(row["jobs"] for row in rows) == 10  # five generated jobs per location
    assert rows == sorted(rows, key=lambda r: (r["locationsId"], r["state"]))
