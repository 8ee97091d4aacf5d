"""Mutations that go wrong: bad input is refused before anything is sent; failed requests say which and why."""

from __future__ import annotations

import pytest

from skyql.emulator import Emulator
from skyql.errors import ApiError, NotFoundError, ParameterError, SqlError
from skyql.session import Session
from tests.mutation_support import HPT, HPT_PATH, api_calls, open_session

CREATE = (
    f"INSERT INTO {HPT} (projectsId, locationsId, data__displayName, data__maxTrialCount, "
    "data__parallelTrialCount, data__studySpec, data__trialJobSpec) "
)


def refused(session: Session, emulator: Emulator, sql: str, error: type[Exception]) -> str:
    """Run `sql`, expect `error`, check that no API request was sent; the message."""
    with pytest.raises(error) as caught:
        session.execute(sql)
    assert not api_calls(emulator), "a refused mutation must send nothing"
    return str(caught.value)


def test_a_wrong_column_name_is_refused_with_the_closest_and_all_valid_columns(session, emulator):
    message = refused(
        session,
        emulator,
        f"INSERT INTO {HPT} (projectsId, locationsId, data__displayNam) "
        "VALUES ('mut-err', 'us-central1', 'x')",
        NotFoundError,
    )
    assert "no column 'data__displayNam' for INSERT (did you mean data__displayName?)" in message
    assert "valid columns: projectsId, locationsId, data__displayName," in message
    assert "data__createTime" not in message, "output-only fields are not offered"


def test_an_update_that_sets_only_output_only_fields_is_refused_as_such(session, emulator):
    message = refused(
        session,
        emulator,
        "UPDATE google.ml.jobs SET data__state = 'RUNNING' WHERE projectsId = 'mut-err' AND jobsId = 'j'",
        ParameterError,
    )
    assert message.startswith("UPDATE sets only output-only fields of google.ml.jobs (data__state)")


def test_a_type_mismatch_names_the_column_and_the_value(session, emulator):
    message = refused(
        session,
        emulator,
        CREATE + "SELECT 'mut-err', 'us-central1', 'x', 'abc', 1, '{}', '{}'",
        ParameterError,
    )
    assert message == "data__maxTrialCount takes an integer, got 'abc'"


def test_invalid_json_in_an_object_column_is_refused(session, emulator):
    message = refused(
        session,
        emulator,
        CREATE + "SELECT 'mut-err', 'us-central1', 'x', 1, 1, '{metrics: []}', '{}'",
        ParameterError,
    )
    assert message.startswith(
        "data__studySpec takes JSON text (object); it is not valid JSON: Expecting property"
    )


def test_nested_json_is_checked_against_the_schema_down_to_enums_and_field_names(session, emulator):
    bad_goal = '{"metrics": [{"metricId": "acc", "goal": "MAX"}]}'
    message = refused(
        session,
        emulator,
        CREATE + f"SELECT 'mut-err', 'us-central1', 'x', 1, 1, '{bad_goal}', '{{}}'",
        ParameterError,
    )
    assert message == (
        "data__studySpec.metrics[0].goal takes one of GOAL_TYPE_UNSPECIFIED, MAXIMIZE, MINIMIZE; "
        "got 'MAX' (did you mean MAXIMIZE?)"
    )
    typo = '{"metricz": []}'
    message = refused(
        session,
        emulator,
        CREATE + f"SELECT 'mut-err', 'us-central1', 'x', 1, 1, '{typo}', '{{}}'",
        ParameterError,
    )
    assert message.startswith(
        "data__studySpec has no field 'metricz' (did you mean metrics?); its fields are "
    )


def test_a_multi_row_insert_names_the_row_with_the_bad_value(session, emulator):
    message = refused(
        session,
        emulator,
        "INSERT INTO google.ml.jobs (projectsId, jobId, labels) VALUES "
        "('mut-err', 'a', '{}'), ('mut-err', 'b', '[1]')",
        ParameterError,
    )
    assert message == "labels (row 2) takes a JSON object, got a JSON array"


def test_exec_of_a_method_that_does_not_exist_lists_the_methods(session, emulator):
    message = refused(
        session,
        emulator,
        f"EXEC {HPT}.cancle @projectsId = 'p', @locationsId = 'l', @hyperparameterTuningJobsId = '1'",
        NotFoundError,
    )
    assert message == (
        f"{HPT} has no method 'cancle' (did you mean cancel?); "
        "its methods are _list, cancel, create, delete, get, list"
    )


def test_exec_without_a_required_parameter_names_it(session, emulator):
    message = refused(
        session, emulator, f"EXEC {HPT}.cancel @projectsId = 'p', @locationsId = 'l'", ParameterError
    )
    assert message == f"EXEC {HPT}.cancel needs @hyperparameterTuningJobsId"


def test_exec_body_is_checked_against_the_request_schema(session, emulator):
    message = refused(
        session,
        emulator,
        "EXEC google.ml.jobs_iam_policies.test_iam_permissions @projectsId = 'p', "
        "@jobsId = 'j' @@json = '{\"permission\": [\"ml.jobs.get\"]}'",
        ParameterError,
    )
    assert message.startswith("@@json has no field 'permission' (did you mean permissions?)")


def test_delete_without_its_id_parameter_is_refused_never_widened(session, emulator):
    message = refused(
        session,
        emulator,
        f"DELETE FROM {HPT} WHERE projectsId = 'mut-err' AND locationsId = 'us-central1'",
        ParameterError,
    )
    assert message == (
        f"DELETE on {HPT} needs hyperparameterTuningJobsId in WHERE (got locationsId, projectsId); "
        "it never runs without pinning the resource's id"
    )


def test_update_without_where_is_refused(session, emulator):
    message = refused(session, emulator, "UPDATE google.ml.jobs SET data__labels = '{}'", ParameterError)
    assert message == (
        "UPDATE on google.ml.jobs needs WHERE jobsId = ... AND projectsId = ...; "
        "skyql never widens a mutation to every resource"
    )


def test_a_mutation_filtered_on_a_field_points_to_in_select(session, emulator):
    message = refused(
        session,
        emulator,
        "UPDATE google.ml.jobs SET labels = '{}' WHERE projectsId = 'mut-err' AND state = 'FAILED'",
        ParameterError,
    )
    assert (
        "got state = 'FAILED'. To act on rows chosen by other columns, use jobsId IN (SELECT ...)" in message
    )


def test_a_verb_the_resource_lacks_is_refused_with_what_it_supports(session, emulator):
    message = refused(
        session, emulator, "DELETE FROM google.ml.jobs WHERE projectsId = 'p' AND jobsId = 'j'", SqlError
    )
    assert message == (
        "google.ml.jobs has no DELETE method; it supports EXEC, INSERT, SELECT, UPDATE "
        "(SHOW METHODS IN google.ml.jobs)"
    )


def test_partial_failure_lists_the_failed_rows_with_reasons_and_the_rows_that_succeeded(session, emulator):
    emulator.deny("mut-denied")
    try:
        with pytest.raises(ApiError) as caught:
            session.execute(
                "INSERT INTO google.ml.jobs (projectsId, jobId) VALUES ('mut-partial', 'p_1'), "
                "('mut-denied', 'p_2'), ('mut-partial', 'p_3'), ('mut-denied', 'p_4')"
            )
    finally:
        emulator.deny("mut-denied", denied=False)
    lines = str(caught.value).splitlines()
    assert lines[0] == "2 of 4 INSERT requests on google.ml.jobs failed:"
    assert lines[1].startswith('  row 2: projectsId=\'mut-denied\' {"jobId":"p_2"} -> ')
    assert "HTTP 403 PERMISSION_DENIED" in lines[1] and "HTTP 403 PERMISSION_DENIED" in lines[2]
    assert lines[2].startswith('  row 4: projectsId=\'mut-denied\' {"jobId":"p_4"}')
    assert lines[3:] == [
        "2 succeeded and stay done:",
        '  row 1: projectsId=\'mut-partial\' {"jobId":"p_1"}',
        '  row 3: projectsId=\'mut-partial\' {"jobId":"p_3"}',
    ]
    assert caught.value.http_status == 403
    created = session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'mut-partial'").rows
    assert sorted(created) == [("p_1",), ("p_3",)]


def test_a_conflict_on_one_row_of_three_fails_that_row_only(session, emulator):
    emulator.inject(409, count=1, match="POST /v1/projects/mut-conflict/jobs")
    with pytest.raises(ApiError) as caught:
        session.execute(
            "INSERT INTO google.ml.jobs (projectsId, jobId) VALUES ('mut-conflict', 'c_1'), "
            "('mut-conflict', 'c_2'), ('mut-conflict', 'c_3')"
        )
    message = str(caught.value)
    assert message.startswith("1 of 3 INSERT requests on google.ml.jobs failed:") and "HTTP 409" in message
    assert "2 succeeded and stay done:" in message
    assert len(api_calls(emulator, "POST")) == 3


def test_a_create_that_fails_with_503_is_not_sent_again_when_a_copy_could_duplicate_it(session, emulator):
    # The server chooses a tuning job's id: a second POST could create a second job.
    emulator.inject(503, count=1, match=f"POST {HPT_PATH.format(project='mut-once')}")
    with pytest.raises(ApiError, match="HTTP 503"):
        session.execute(CREATE + "SELECT 'mut-once', 'us-central1', 'once', 1, 1, '{}', '{}'")
    assert len(api_calls(emulator, "POST")) == 1


def test_an_operation_that_ends_in_error_is_a_query_error_with_await(session, emulator):
    emulator.populate("aiplatform", "projects/mut-op-error/locations/us-central1/hyperparameterTuningJobs", 1)
    [(job_id,)] = session.execute(
        f"SELECT hyperparameterTuningJobsId FROM {HPT} WHERE projectsId = 'mut-op-error' "
        "AND locationsId = 'us-central1'"
    ).rows
    emulator.inject(500, count=1, match="DELETE /v1/projects/mut-op-error", in_operation=True)
    with pytest.raises(ApiError) as caught:
        session.execute(
            f"DELETE /*+ AWAIT */ FROM {HPT} WHERE projectsId = 'mut-op-error' "
            f"AND locationsId = 'us-central1' AND hyperparameterTuningJobsId = '{job_id}'"
        )
    assert "operation projects/mut-op-error/locations/us-central1/operations/" in str(caught.value)
    assert "failed: INTERNAL" in str(caught.value)


def test_dryrun_prints_each_request_with_its_body_and_sends_nothing(emulator, key_file):
    with open_session(emulator, key_file, dryrun=True) as sess:
        emulator.clear_log()
        result = sess.execute(
            "INSERT INTO google.ml.jobs (projectsId, jobId, labels) VALUES "
            "('mut-dry', 'd_1', '{\"a\": \"b\"}'), ('mut-dry', 'd_2', NULL)"
        )
        exec_result = sess.execute("EXEC google.ml.jobs.cancel @projectsId = 'mut-dry', @jobsId = 'd_1'")
    assert [row[:2] for row in result.rows] == [("google.ml.jobs", "projects_jobs_create")] * 2
    assert (
        result.rows[0][2]
        == f'POST {emulator.url}/v1/projects/mut-dry/jobs {{"jobId":"d_1","labels":{{"a":"b"}}}}'
    )
    assert result.rows[1][2] == f'POST {emulator.url}/v1/projects/mut-dry/jobs {{"jobId":"d_2"}}'
    assert exec_result.rows == [
        (
            "google.ml.jobs",
            "projects_jobs_cancel",
            f"POST {emulator.url}/v1/projects/mut-dry/jobs/d_1:cancel {{}}",
        )
    ]
    assert not api_calls(emulator)


def test_dryrun_of_a_mutation_over_a_select_shows_the_reads_and_the_request_per_row(emulator, key_file):
    with open_session(emulator, key_file, dryrun=True) as sess:
        emulator.clear_log()
        result = sess.execute(
            f"DELETE FROM {HPT} WHERE projectsId = 'mut-dry' AND locationsId = 'us-central1' "
            f"AND hyperparameterTuningJobsId IN (SELECT hyperparameterTuningJobsId FROM {HPT} "
            "WHERE projectsId = 'mut-dry' AND locationsId = 'us-central1' AND state = 'JOB_STATE_FAILED')"
        )
    (read, delete) = result.rows
    assert read[1] == "list" and read[2].startswith(
        f"GET {emulator.url}/v1/projects/mut-dry/locations/us-central1/"
    )
    assert delete[1] == "delete" and delete[2] == (
        f"DELETE {emulator.url}/v1/projects/{{projectsId}}/locations/{{locationsId}}/hyperparameterTuningJobs/"
        "{hyperparameterTuningJobsId}  -- one per row the reads above return"
    )
    assert not api_calls(emulator)


def test_qmark_count_mismatch_is_a_clear_error(session, emulator):
    with pytest.raises(ParameterError, match="the statement has 2 \\? placeholders but 1 parameter given"):
        session.execute("INSERT INTO google.ml.jobs (projectsId, jobId) VALUES (?, ?)", ["only-one"])
    assert not api_calls(emulator)
