"""Parameter columns after a list: query parameters are columns, and listed rows know their own ids."""

from __future__ import annotations

import time

import pytest

from skyql.session import Options, Session
from tests.support import auth_for


@pytest.fixture
def session(emulator, key_file):
    options = Options(auth=auth_for(key_file), endpoints={"google": emulator.url})
    with Session(options) as s:
        yield s


def test_a_query_parameter_in_where_is_sent_and_is_a_column(session, emulator):
    emulator.clear_log()
    result = session.execute(
        "SELECT jobId, state, filter FROM google.ml.jobs "
        "WHERE projectsId = 'demo-project' AND filter = 'state=\"RUNNING\"'"
    )
    assert result.rows and all(state == "RUNNING" for _, state, _ in result.rows)
    assert {row[2] for row in result.rows} == {'state="RUNNING"'}
    lists = [r for r in emulator.requests if r["path"].endswith("/jobs")]
    assert lists and all(r["query"]["filter"] == ['state="RUNNING"'] for r in lists)


def test_listed_rows_carry_their_id_parameter_from_an_id_field(session):
    ids = session.execute("SELECT jobId, jobsId FROM google.ml.jobs WHERE projectsId = 'demo-project'").rows
    assert ids and all(job_id == jobs_id for job_id, jobs_id in ids)


def test_listed_rows_carry_their_id_parameters_from_their_resource_name(session):
    rows = session.execute(
        "SELECT name, hyperparameterTuningJobsId, locationsId FROM google.aiplatform.hyperparameter_tuning_jobs "
        "WHERE projectsId = 'demo-project' AND locationsId = 'europe-west4'"
    ).rows
    assert rows
    for name, job_id, location in rows:
        assert name == f"projects/demo-project/locations/{location}/hyperparameterTuningJobs/{job_id}"


def test_an_id_in_a_subquery_over_the_same_resource_finds_its_rows(session):
    rows = session.execute(
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'demo-project' AND jobsId IN "
        "(SELECT jobId FROM google.ml.jobs WHERE projectsId = 'demo-project' ORDER BY jobId LIMIT 2)"
    ).rows
    everything = session.execute(
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'demo-project' ORDER BY jobId LIMIT 2"
    ).rows
    assert sorted(rows) == everything and len(rows) == 2


def test_id_columns_are_filled_with_fields_pushdown_too(session, emulator):
    emulator.clear_log()
    rows = session.execute(
        "SELECT hyperparameterTuningJobsId FROM google.aiplatform.hyperparameter_tuning_jobs "
        "WHERE projectsId = 'demo-project' AND locationsId = 'us-central1'"
    ).rows
    assert rows and all(r[0] for r in rows)
    assert any("fields" in r["query"] for r in emulator.requests)


def test_an_id_parameter_the_query_does_not_read_costs_no_field(session, emulator):
    emulator.clear_log()
    counts = session.execute(
        "SELECT state, count(*) FROM google.ml.jobs WHERE projectsId = 'demo-project' GROUP BY state"
    ).rows
    assert sum(n for _, n in counts) == len(
        session.execute("SELECT jobsId FROM google.ml.jobs WHERE projectsId = 'demo-project'").rows
    )
    masks = [r["query"].get("fields") for r in emulator.requests if r["path"].endswith("/jobs")]
    assert masks == [["nextPageToken,jobs(state)"], ["nextPageToken,jobs(jobId)"]]


def test_statements_of_a_session_share_their_connections(emulator, key_file):
    options = Options(auth=auth_for(key_file), endpoints={"google": emulator.url})
    open_before = emulator.connections_open  # other tests' sessions may still hold theirs
    with Session(options) as session:
        session.execute("SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'demo-project'")
        opened = emulator.connections_accepted
        for _ in range(3):
            session.execute("SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'demo-project'")
            session.execute(
                "INSERT INTO google.ml.jobs (projectsId, data__jobId) SELECT 'conn-reuse', 'j_' || "
                "(SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'conn-reuse')"
            )
        # Seven more statements on the connection the first one opened: over TLS, seven handshakes saved.
        assert emulator.connections_accepted == opened
        assert (
            len(session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'conn-reuse'").rows) == 3
        )
    deadline = time.monotonic() + 5
    while emulator.connections_open > open_before and time.monotonic() < deadline:
        time.sleep(0.01)  # closing the session closes its connections
    assert emulator.connections_open <= open_before
