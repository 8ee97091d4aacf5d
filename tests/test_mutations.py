"""Every method of the two reference documents from SQL, against the emulator: what was sent, what the user saw.

google.aiplatform.hyperparameter_tuning_jobs: get, list, create, delete, _list, cancel.
google.ml.jobs: get, list, create, patch, cancel; google.ml.jobs_iam_policies: get/set/test IAM.
"""

from __future__ import annotations

import itertools
import json

import pytest

from skyql.emulator import Emulator
from skyql.session import Session
from skyql.sql import render_template
from tests.mutation_support import HPT, HPT_PATH, api_calls, auth_for, cli

STUDY_SPEC = {
    "metrics": [{"metricId": "accuracy", "goal": "MAXIMIZE"}],
    "parameters": [{"parameterId": "lr", "doubleValueSpec": {"minValue": 0.0001, "maxValue": 0.1}}],
}
TRIAL_JOB_SPEC = {
    "workerPoolSpecs": [
        {
            "machineSpec": {"machineType": "n1-standard-4"},
            "replicaCount": "1",
            "containerSpec": {"imageUri": "gcr.io/my-proj/train"},
        }
    ]
}
_job_numbers = itertools.count(1)


def create_tuning_job(session: Session, project: str, name: str = "lr-sweep") -> str:
    """Create a tuning job through SQL; its server-assigned id."""
    result = session.execute(
        f"INSERT INTO {HPT} (projectsId, locationsId, displayName, maxTrialCount, parallelTrialCount, studySpec, "
        f"trialJobSpec) SELECT '{project}', 'us-central1', '{name}', 20, 4, '{json.dumps(STUDY_SPEC)}', "
        f"'{json.dumps(TRIAL_JOB_SPEC)}' RETURNING split_part(name, '/', -1) AS id"
    )
    return result.rows[0][0]


# -- google.aiplatform.hyperparameter_tuning_jobs ----------------------------------------------------


def test_insert_select_creates_a_tuning_job_from_data_columns_and_names_it_in_the_message(session, emulator):
    result = session.execute(f"""
        INSERT INTO {HPT}
          (projectsId, locationsId, data__displayName, data__maxTrialCount, data__parallelTrialCount,
           data__studySpec, data__trialJobSpec)
        SELECT 'mut-create', 'us-central1', 'lr-sweep', 20, 4, '{json.dumps(STUDY_SPEC)}', '{json.dumps(TRIAL_JOB_SPEC)}'
    """)
    [post] = api_calls(emulator, "POST")
    assert post["path"] == HPT_PATH.format(project="mut-create")
    # Integers stay JSON numbers, JSON text becomes a JSON object: exactly the body Google expects.
    assert post["body"] == {
        "displayName": "lr-sweep",
        "maxTrialCount": 20,
        "parallelTrialCount": 4,
        "studySpec": STUDY_SPEC,
        "trialJobSpec": TRIAL_JOB_SPEC,
    }
    assert result.rows == [] and result.rowcount == 1
    assert result.message.startswith(
        f"1 row inserted ({HPT}.create): projects/mut-create/locations/us-central1/hyperparameterTuningJobs/"
    )


def test_insert_values_with_several_rows_sends_one_create_per_row(session, emulator):
    result = session.execute(
        f"INSERT INTO {HPT} (projectsId, locationsId, displayName, maxTrialCount, parallelTrialCount, studySpec, "
        f"trialJobSpec) VALUES ('mut-rows', 'us-central1', 'a', 2, 1, '{json.dumps(STUDY_SPEC)}', '{{}}'), "
        f"('mut-rows', 'us-central1', 'b', 3, 1, '{json.dumps(STUDY_SPEC)}', '{{}}')"
    )
    posts = api_calls(emulator, "POST")
    assert sorted((p["body"]["displayName"], p["body"]["maxTrialCount"]) for p in posts) == [
        ("a", 2),
        ("b", 3),
    ]
    assert result.rowcount == 2 and result.message.startswith("2 rows inserted")


def test_insert_select_over_another_resource_sends_one_create_per_row_it_reads(session, emulator):
    emulator.add(
        "ml", "projects/mut-src/jobs", {"jobId": "src_1", "labels": {"team": "a"}, "state": "FAILED"}
    )
    emulator.add("ml", "projects/mut-src/jobs", {"jobId": "src_2", "state": "FAILED"})
    emulator.add("ml", "projects/mut-src/jobs", {"jobId": "src_3", "state": "SUCCEEDED"})
    result = session.execute(
        "INSERT INTO google.ml.jobs (projectsId, data__jobId, data__labels) "
        "SELECT 'mut-dst', jobId || '_rerun', labels FROM google.ml.jobs WHERE projectsId = 'mut-src' "
        "AND state = 'FAILED'"
    )
    bodies = sorted((p["body"] for p in api_calls(emulator, "POST", "mut-dst")), key=lambda b: b["jobId"])
    # A NULL column is left out of the body; a JSON column goes as a JSON object.
    assert bodies == [{"jobId": "src_1_rerun", "labels": {"team": "a"}}, {"jobId": "src_2_rerun"}]
    assert result.rowcount == 2


def test_a_blank_json_column_from_a_template_variable_is_left_out(session, emulator):
    session.execute("INSERT INTO google.ml.jobs (projectsId, jobId, labels) VALUES ('mut-blank', 'b_1', '')")
    [post] = api_calls(emulator, "POST")
    assert post["body"] == {"jobId": "b_1"}


def test_select_by_id_uses_get_and_select_by_location_uses_list(session, emulator):
    job_id = create_tuning_job(session, "mut-get")
    emulator.clear_log()
    got = session.execute(
        f"SELECT displayName, maxTrialCount FROM {HPT} WHERE projectsId = 'mut-get' "
        f"AND locationsId = 'us-central1' AND hyperparameterTuningJobsId = '{job_id}'"
    )
    listed = session.execute(
        f"SELECT displayName FROM {HPT} WHERE projectsId = 'mut-get' AND locationsId = 'us-central1'"
    )
    assert got.rows == [("lr-sweep", 20)] and listed.rows == [("lr-sweep",)]
    paths = [r["path"] for r in api_calls(emulator, "GET")]
    assert paths == [HPT_PATH.format(project="mut-get") + f"/{job_id}", HPT_PATH.format(project="mut-get")]


def test_delete_sends_delete_and_reports_the_operation_it_started(session, emulator):
    job_id = create_tuning_job(session, "mut-delete")
    emulator.clear_log()
    result = session.execute(
        f"DELETE FROM {HPT} WHERE projectsId = 'mut-delete' AND locationsId = 'us-central1' "
        f"AND hyperparameterTuningJobsId = '{job_id}'"
    )
    [delete] = api_calls(emulator, "DELETE")
    assert delete["path"] == HPT_PATH.format(project="mut-delete") + f"/{job_id}"
    assert not api_calls(emulator, "GET"), "without AWAIT the operation is not polled"
    assert result.rowcount == 1
    assert "operation projects/mut-delete/locations/us-central1/operations/" in result.message
    assert "started (add /*+ AWAIT */ to wait)" in result.message


def test_delete_with_await_polls_the_operation_and_returning_shows_it_finished(session, emulator):
    job_id = create_tuning_job(session, "mut-await")
    emulator.clear_log()
    result = session.execute(
        f"DELETE /*+ AWAIT */ FROM {HPT} WHERE projectsId = 'mut-await' "
        f"AND locationsId = 'us-central1' AND hyperparameterTuningJobsId = '{job_id}' "
        "RETURNING name, done, hyperparameterTuningJobsId"
    )
    [(operation, done, deleted)] = result.rows
    polls = api_calls(emulator, "GET", "/operations/")
    assert len(polls) == 2 and {p["path"] for p in polls} == {f"/v1/{operation}"}
    assert done is True and deleted == job_id
    assert result.message.endswith(f"operation {operation} finished")
    remaining = session.execute(
        f"SELECT count(*) FROM {HPT} WHERE projectsId = 'mut-await' AND locationsId = 'us-central1'"
    )
    assert remaining.rows == [(0,)]


def test_delete_in_select_removes_every_failed_job_and_only_those(session, emulator):
    emulator.populate("aiplatform", "projects/mut-failed/locations/us-central1/hyperparameterTuningJobs", 14)
    where = "projectsId = 'mut-failed' AND locationsId = 'us-central1'"
    states = dict(session.execute(f"SELECT hyperparameterTuningJobsId, state FROM {HPT} WHERE {where}").rows)
    failed = {i for i, s in states.items() if s == "JOB_STATE_FAILED"}
    assert failed and len(failed) < len(states)
    emulator.clear_log()
    result = session.execute(f"""
        DELETE FROM {HPT} WHERE {where} AND hyperparameterTuningJobsId IN (
          SELECT split_part(name, '/', -1) FROM {HPT} WHERE {where} AND state = 'JOB_STATE_FAILED')""")
    deleted = {r["path"].rsplit("/", 1)[-1] for r in api_calls(emulator, "DELETE")}
    assert deleted == failed and result.rowcount == len(failed)
    left = session.execute(f"SELECT hyperparameterTuningJobsId FROM {HPT} WHERE {where}").rows
    assert {i for (i,) in left} == set(states) - failed


def test_delete_in_a_select_that_finds_nothing_deletes_nothing(session, emulator):
    result = session.execute(f"""
        DELETE FROM {HPT} WHERE projectsId = 'mut-none' AND locationsId = 'us-central1'
        AND hyperparameterTuningJobsId IN (SELECT split_part(name, '/', -1) FROM {HPT}
          WHERE projectsId = 'mut-none' AND locationsId = 'us-central1' AND state = 'JOB_STATE_FAILED')""")
    assert result.rowcount == 0 and result.message.startswith("0 rows deleted")
    assert not api_calls(emulator, "DELETE")


def test_exec_cancel_posts_to_the_cancel_verb_and_the_job_is_cancelling(session, emulator):
    job_id = create_tuning_job(session, "mut-cancel")
    emulator.clear_log()
    result = session.execute(
        f"EXEC {HPT}.cancel @projectsId = 'mut-cancel', @locationsId = 'us-central1', "
        f"@hyperparameterTuningJobsId = '{job_id}'"
    )
    [post] = api_calls(emulator, "POST")
    assert post["path"] == HPT_PATH.format(project="mut-cancel") + f"/{job_id}:cancel"
    assert post["body"] in (None, {})
    # cancel answers Empty: no rows, the message says it was done.
    assert result.rows == [] and result.message == f"{HPT}.cancel: done"
    state = session.execute(
        f"SELECT state FROM {HPT} WHERE projectsId = 'mut-cancel' AND locationsId = 'us-central1' "
        f"AND hyperparameterTuningJobsId = '{job_id}'"
    )
    assert state.rows == [("JOB_STATE_CANCELLING",)]


def test_exec_of_a_method_returning_an_operation_shows_it_at_once_or_its_end_with_await(session, emulator):
    first, second = (
        create_tuning_job(session, "mut-exec-op", "a"),
        create_tuning_job(session, "mut-exec-op", "b"),
    )
    call = (
        f"EXEC {{hint}} {HPT}.delete @projectsId = 'mut-exec-op', @locationsId = 'us-central1', "
        "@hyperparameterTuningJobsId = '{id}'"
    )
    emulator.clear_log()
    started = session.execute(call.format(hint="", id=first))
    assert not api_calls(emulator, "GET")
    [(name, done)] = [
        (row[started.columns.index("name")], row[started.columns.index("done")]) for row in started.rows
    ]
    assert name.startswith("projects/mut-exec-op/locations/us-central1/operations/") and not done
    assert started.message == f"{HPT}.delete: operation {name} started (add /*+ AWAIT */ to wait)"
    awaited = session.execute(call.format(hint="/*+ AWAIT */", id=second))
    assert [row[awaited.columns.index("done")] for row in awaited.rows] == [True]
    assert awaited.message.endswith(" finished") and len(api_calls(emulator, "GET", "/operations/")) == 2


def test_insert_with_await_returns_the_created_resource_from_the_final_operation(session, emulator):
    # A featurestore create answers an Operation; its final response is the featurestore.
    sql = (
        "INSERT {hint} INTO google.aiplatform.featurestores (projectsId, locationsId, featurestoreId, labels) "
        "VALUES ('mut-op-insert', 'us-central1', '{id}', '{{\"team\": \"a\"}}') RETURNING {columns}"
    )
    started = session.execute(sql.format(hint="", id="fs_started", columns="name, done"))
    [(operation, done)] = started.rows
    assert operation.startswith("projects/mut-op-insert/locations/us-central1/operations/") and not done
    awaited = session.execute(sql.format(hint="/*+ AWAIT */", id="fs_awaited", columns="name, labels"))
    [(name, labels)] = awaited.rows
    assert name == "projects/mut-op-insert/locations/us-central1/featurestores/fs_awaited"
    assert json.loads(labels) == {"team": "a"} and awaited.message.endswith(" finished")


def test_exec_underscore_list_returns_one_row_per_raw_page_following_every_page(session, emulator):
    emulator.populate("aiplatform", "projects/mut-pages/locations/us-central1/hyperparameterTuningJobs", 7)
    result = session.execute(
        f"EXEC {HPT}._list @projectsId = 'mut-pages', @locationsId = 'us-central1', @pageSize = 3"
    )
    assert result.columns == ["hyperparameterTuningJobs", "nextPageToken"]
    sizes = [len(json.loads(jobs)) for jobs, _ in result.rows]
    tokens = [token for _, token in result.rows]
    assert sizes == [3, 3, 1] and tokens[-1] is None and all(tokens[:-1])
    assert len(api_calls(emulator, "GET")) == 3
    assert result.message == f"{HPT}._list: done (3 pages)"


def test_show_insert_prints_a_template_that_runs_once_its_placeholders_are_filled(session, emulator):
    [(template,)] = session.execute(f"SHOW INSERT /*+ REQUIRED */ INTO {HPT}").rows
    assert "'{{ projectsId }}'" in template and "{{ maxTrialCount }}" in template
    values = {
        "projectsId": "mut-template",
        "locationsId": "us-central1",
        "displayName": "from-template",
        "maxTrialCount": 8,
        "parallelTrialCount": 2,
        "studySpec": STUDY_SPEC,
        "trialJobSpec": TRIAL_JOB_SPEC,
    }
    session.execute(render_template(template, values))
    [post] = api_calls(emulator, "POST")
    assert post["body"] == {
        "displayName": "from-template",
        "maxTrialCount": 8,
        "parallelTrialCount": 2,
        "studySpec": STUDY_SPEC,
        "trialJobSpec": TRIAL_JOB_SPEC,
    }


# -- google.ml.jobs and google.ml.jobs_iam_policies -----------------------------------------------------


def test_insert_creates_an_ml_job_and_returning_shows_the_created_resource(session, emulator):
    result = session.execute(
        "INSERT INTO google.ml.jobs (projectsId, data__jobId, data__trainingInput) SELECT 'mut-ml', 'train_42', "
        '\'{"scaleTier": "BASIC", "region": "us-central1"}\' RETURNING jobId, state, trainingInput'
    )
    [post] = api_calls(emulator, "POST")
    assert post["path"] == "/v1/projects/mut-ml/jobs"
    assert post["body"] == {
        "jobId": "train_42",
        "trainingInput": {"scaleTier": "BASIC", "region": "us-central1"},
    }
    [(job_id, state, training)] = result.rows
    assert (job_id, state) == ("train_42", "QUEUED") and json.loads(training)["scaleTier"] == "BASIC"
    assert result.message == "1 row inserted (google.ml.jobs.projects_jobs_create)"


@pytest.fixture
def ml_job(session: Session, emulator: Emulator) -> str:
    """A fresh QUEUED job in project mut-ml-job; its id."""
    job_id = f"job_{next(_job_numbers)}"
    session.execute(f"INSERT INTO google.ml.jobs (projectsId, jobId) VALUES ('mut-ml-job', '{job_id}')")
    emulator.clear_log()
    return job_id


def test_select_gets_one_ml_job_by_id_and_lists_them_by_project(session, emulator, ml_job):
    got = session.execute(
        f"SELECT jobId, state FROM google.ml.jobs WHERE projectsId = 'mut-ml-job' AND jobsId = '{ml_job}'"
    )
    listed = session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'mut-ml-job'")
    assert got.rows == [(ml_job, "QUEUED")] and (ml_job,) in listed.rows
    paths = [r["path"] for r in api_calls(emulator, "GET")]
    assert paths == [f"/v1/projects/mut-ml-job/jobs/{ml_job}", "/v1/projects/mut-ml-job/jobs"]


def test_update_patches_with_an_update_mask_made_from_the_set_columns(session, emulator, ml_job):
    result = session.execute(
        f'UPDATE google.ml.jobs SET data__labels = \'{{"team": "vision"}}\' '
        f"WHERE projectsId = 'mut-ml-job' AND jobsId = '{ml_job}' RETURNING jobId, labels"
    )
    [patch] = api_calls(emulator, "PATCH")
    assert patch["path"] == f"/v1/projects/mut-ml-job/jobs/{ml_job}"
    assert patch["query"] == {"updateMask": ["labels"]} and patch["body"] == {"labels": {"team": "vision"}}
    assert [(j, json.loads(labels)) for j, labels in result.rows] == [(ml_job, {"team": "vision"})]
    assert result.message == "1 row updated (google.ml.jobs.projects_jobs_patch)"


def test_update_mask_given_in_where_wins_over_the_computed_one(session, emulator, ml_job):
    session.execute(
        f'UPDATE google.ml.jobs SET labels = \'{{"a": "b"}}\' '
        f"WHERE projectsId = 'mut-ml-job' AND jobsId = '{ml_job}' AND updateMask = 'labels,etag'"
    )
    [patch] = api_calls(emulator, "PATCH")
    assert patch["query"] == {"updateMask": ["labels,etag"]}


def test_update_with_a_tuple_in_select_patches_exactly_the_pairs_it_reads(session, emulator):
    for project in ("mut-pair-1", "mut-pair-2"):
        emulator.add("ml", f"projects/{project}/jobs", {"jobId": f"{project}_run", "state": "RUNNING"})
        emulator.add("ml", f"projects/{project}/jobs", {"jobId": f"{project}_done", "state": "SUCCEEDED"})
    emulator.clear_log()
    result = session.execute(
        'UPDATE google.ml.jobs SET labels = \'{"watch": "yes"}\' WHERE (projectsId, jobsId) IN ('
        "SELECT projectsId, jobId FROM google.ml.jobs WHERE projectsId IN ('mut-pair-1', 'mut-pair-2') "
        "AND state = 'RUNNING')"
    )
    patched = sorted(r["path"] for r in api_calls(emulator, "PATCH"))
    assert patched == [
        "/v1/projects/mut-pair-1/jobs/mut-pair-1_run",
        "/v1/projects/mut-pair-2/jobs/mut-pair-2_run",
    ]
    assert result.rowcount == 2


def test_exec_cancel_of_an_ml_job_posts_cancel_and_shows_no_rows(session, emulator, ml_job):
    result = session.execute(f"EXEC google.ml.jobs.cancel @projectsId = 'mut-ml-job', @jobsId = '{ml_job}'")
    [post] = api_calls(emulator, "POST")
    assert post["path"] == f"/v1/projects/mut-ml-job/jobs/{ml_job}:cancel" and post["body"] == {}
    assert result.rows == [] and result.message == "google.ml.jobs.projects_jobs_cancel: done"
    state = session.execute(
        f"SELECT state FROM google.ml.jobs WHERE projectsId = 'mut-ml-job' AND jobsId = '{ml_job}'"
    )
    assert state.rows == [("CANCELLING",)]


def test_replace_iam_policy_sends_set_iam_policy_with_a_policy_body(session, emulator, ml_job):
    policy = {"bindings": [{"role": "roles/ml.viewer", "members": ["user:a@example.com"]}]}
    result = session.execute(
        f"REPLACE google.ml.jobs_iam_policies SET data__policy = '{json.dumps(policy)}' "
        f"WHERE projectsId = 'mut-ml-job' AND jobsId = '{ml_job}' RETURNING bindings, etag"
    )
    [post] = api_calls(emulator, "POST")
    assert post["path"] == f"/v1/projects/mut-ml-job/jobs/{ml_job}:setIamPolicy" and post["body"] == {
        "policy": policy
    }
    [(bindings, etag)] = result.rows
    assert json.loads(bindings) == policy["bindings"] and etag
    assert result.message == "1 row replaced (google.ml.jobs_iam_policies.projects_jobs_set_iam_policy)"
    read = session.execute(
        f"SELECT role, members FROM google.ml.jobs_iam_policies "
        f"WHERE projectsId = 'mut-ml-job' AND jobsId = '{ml_job}'"
    )
    assert [(role, json.loads(members)) for role, members in read.rows] == [
        ("roles/ml.viewer", ["user:a@example.com"])
    ]
    assert api_calls(emulator, "GET")[-1]["path"] == f"/v1/projects/mut-ml-job/jobs/{ml_job}:getIamPolicy"


def test_exec_test_iam_permissions_sends_the_json_body_and_shows_the_granted_permissions(
    session, emulator, ml_job
):
    result = session.execute(
        f"EXEC google.ml.jobs_iam_policies.test_iam_permissions @projectsId = 'mut-ml-job', @jobsId = '{ml_job}' "
        '@@json = \'{"permissions": ["ml.jobs.get", "ml.jobs.cancel"]}\''
    )
    [post] = api_calls(emulator, "POST")
    assert post["path"] == f"/v1/projects/mut-ml-job/jobs/{ml_job}:testIamPermissions"
    assert post["body"] == {"permissions": ["ml.jobs.get", "ml.jobs.cancel"]}
    assert result.columns == ["permissions"]
    assert json.loads(result.rows[0][0]) == ["ml.jobs.get", "ml.jobs.cancel"]


# -- the other doors: the CLI and the DB-API ----------------------------------------------------------


def test_cli_script_logs_each_mutation_on_stderr_and_prints_exec_rows_on_stdout(emulator, key_file, tmp_path):
    script = tmp_path / "jobs.iql"
    script.write_text(
        "INSERT INTO google.ml.jobs (projectsId, data__jobId) SELECT 'mut-cli', 'cli_job';\n"
        "UPDATE google.ml.jobs SET data__labels = '{\"team\": \"cli\"}' WHERE projectsId = 'mut-cli' "
        "AND jobsId = 'cli_job';\n"
        "EXEC google.ml.jobs_iam_policies.test_iam_permissions @projectsId = 'mut-cli', @jobsId = 'cli_job' "
        '@@json = \'{"permissions": ["ml.jobs.get"]}\';\n'
    )
    run = cli(
        "-i",
        str(script),
        "-o",
        "json",
        "--endpoint",
        f"google={emulator.url}",
        "--auth",
        json.dumps(auth_for(key_file)),
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [
        "1 row inserted (google.ml.jobs.projects_jobs_create)",
        "1 row updated (google.ml.jobs.projects_jobs_patch)",
        "google.ml.jobs_iam_policies.projects_jobs_test_iam_permissions: done",
    ]
    assert json.loads(run.stdout) == [{"permissions": ["ml.jobs.get"]}]


def test_cli_error_of_a_mutation_exits_1_and_sends_nothing(emulator, key_file):
    emulator.clear_log()
    run = cli(
        "DELETE FROM google.aiplatform.hyperparameter_tuning_jobs WHERE projectsId = 'mut-cli' "
        "AND locationsId = 'us-central1'",
        "--endpoint",
        f"google={emulator.url}",
        "--auth",
        json.dumps(auth_for(key_file)),
    )
    assert run.returncode == 1 and "needs hyperparameterTuningJobsId in WHERE" in run.stderr
    assert not api_calls(emulator)


def test_dbapi_binds_qmark_parameters_in_insert_update_and_delete(emulator, key_file):
    import skyql

    with skyql.connect(
        auth=auth_for(key_file), endpoints={"google": emulator.url}, poll_interval=0.05
    ) as conn:
        cur = conn.cursor()
        cur.execute(
            "INSERT INTO google.ml.jobs (projectsId, jobId, labels) VALUES (?, ?, ?)",
            ("mut-dbapi", "db_1", {"via": "dbapi"}),
        )
        assert (
            cur.rowcount == 1 and cur.statusmessage == "1 row inserted (google.ml.jobs.projects_jobs_create)"
        )
        cur.execute(
            "UPDATE google.ml.jobs SET labels = ? WHERE projectsId = ? AND jobsId = ?",
            ('{"via": "update"}', "mut-dbapi", "db_1"),
        )
        cur.execute(
            f"SELECT hyperparameterTuningJobsId FROM {HPT} WHERE projectsId = ? AND locationsId = ?",
            ("mut-dbapi", "us-central1"),
        )
        assert cur.fetchall() == []
        cur.execute("SELECT jobId, labels FROM google.ml.jobs WHERE projectsId = ?", ("mut-dbapi",))
        assert [(j, json.loads(labels)) for j, labels in cur.fetchall()] == [("db_1", {"via": "update"})]
    posts = api_calls(emulator, "POST", "mut-dbapi")
    assert posts[-1]["body"] == {"jobId": "db_1", "labels": {"via": "dbapi"}}
