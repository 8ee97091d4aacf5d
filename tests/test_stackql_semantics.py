"""StackQL's semantics, end to end against the emulator: absent items are zero rows, every query parameter
may be given in WHERE, SHOW ... FROM, EXEC as a subquery, and StackQL's ways of writing a request body."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from skyql.emulator import Emulator
from skyql.errors import ApiError, NotFoundError, SqlError
from skyql.session import Session
from skyql.sql import parse_one
from skyql.sql.statements import EXEC_META, exec_tables
from tests.mutation_support import api_calls, cleared, cli, module_session

HPT = "google.aiplatform.hyperparameter_tuning_jobs"


@pytest.fixture(scope="module")
def session(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    yield from module_session(emulator, tmp_path_factory)


@pytest.fixture(scope="module")
def jobs(emulator: Emulator) -> str:
    """A project with two ml jobs, job_a and job_b."""
    for job_id in ("job_a", "job_b"):
        emulator.add("ml", "projects/sem-jobs/jobs", {"jobId": job_id, "state": "RUNNING"})
    return "sem-jobs"


# -- an item that does not exist is zero rows ----------------------------------------------------------


def test_counting_an_item_that_does_not_exist_gives_zero_as_stackql_deploy_expects(session, emulator, jobs):
    s = cleared(session, emulator)
    exists = f"SELECT COUNT(*) as count FROM google.ml.jobs WHERE projectsId = '{jobs}' AND jobsId = '%s'"
    assert s.execute(exists % "job_a").rows == [(1,)]
    assert s.execute(exists % "no_such_job").rows == [(0,)]
    assert (
        s.execute(
            f"SELECT jobId, state FROM google.ml.jobs WHERE projectsId = '{jobs}' AND jobsId = 'gone'"
        ).rows
        == []
    )
    [request] = api_calls(emulator, "GET", "/jobs/gone")
    assert request["status"] == 404


def test_the_compute_exists_query_of_stackql_deploy_counts_zero_for_a_missing_network(session, emulator):
    result = cleared(session, emulator).execute(
        "SELECT COUNT(*) as count FROM google.compute.networks WHERE project = 'demo-project' AND network = 'no-vpc'"
    )
    assert result.rows == [(0,)]
    assert [r["status"] for r in api_calls(emulator, "GET", "/networks/no-vpc")] == [404]


def test_in_a_fan_out_the_missing_items_add_no_rows_and_the_others_do(session, emulator, jobs):
    rows = (
        cleared(session, emulator)
        .execute(
            f"SELECT jobId FROM google.ml.jobs WHERE projectsId = '{jobs}' AND jobsId IN ('job_a', 'nope', 'job_b') "
            "ORDER BY jobId"
        )
        .rows
    )
    assert rows == [("job_a",), ("job_b",)]
    assert sorted(r["status"] for r in api_calls(emulator, "GET", f"/projects/{jobs}/jobs/")) == [
        200,
        200,
        404,
    ]


def test_a_list_whose_parent_does_not_exist_is_zero_rows(session, emulator):
    emulator.inject(status=404, count=1, match="/projects/sem-gone/jobs")
    try:
        rows = cleared(session, emulator).execute(
            "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sem-gone'"
        )
    finally:
        emulator.clear_faults()
    assert rows.rows == []
    assert [r["status"] for r in api_calls(emulator, "GET", "/projects/sem-gone/jobs")] == [404]


def test_permission_denied_on_a_pinned_item_is_still_an_error(session, emulator):
    emulator.deny("sem-denied")
    try:
        with pytest.raises(ApiError, match="403") as caught:
            session.execute(
                "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sem-denied' AND jobsId = 'j'"
            )
    finally:
        emulator.deny("sem-denied", denied=False)
    assert caught.value.http_status == 403


def test_a_mutation_or_exec_of_a_missing_item_is_still_an_error(session, jobs):
    with pytest.raises(ApiError, match="404"):
        session.execute(f"EXEC google.ml.jobs.cancel @projectsId = '{jobs}', @jobsId = 'nope'")
    with pytest.raises(ApiError, match="404"):
        session.execute(
            f"UPDATE google.ml.jobs SET labels = '{{\"a\": \"b\"}}' WHERE projectsId = '{jobs}' "
            "AND jobsId = 'nope'"
        )


def test_verbose_notes_each_404_read_as_no_rows_on_stderr():
    done = cli(
        "--emulator",
        "--verbose",
        "-o",
        "json",
        "SELECT COUNT(*) AS n FROM google.ml.jobs WHERE projectsId = 'demo-project' AND jobsId = 'nope'",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 0}]
    [note] = [line for line in done.stderr.splitlines() if "read as no rows" in line]
    assert "HTTP 404" in note and "jobsId='nope'" in note


# -- every query parameter may be given in WHERE --------------------------------------------------------


@pytest.fixture(scope="module")
def tuning(emulator: Emulator) -> str:
    """A project with five tuning jobs in us-central1, hpt-0 to hpt-4."""
    for i in range(5):
        emulator.add(
            "aiplatform",
            "projects/sem-pages/locations/us-central1/hyperparameterTuningJobs",
            {"displayName": f"hpt-{i}"},
        )
    return "sem-pages"


def _pages(session: Session, project: str, page_size: int) -> list[tuple[list[str], str | None]]:
    """The pages of a list as the raw `_list` EXEC shows them: (their displayNames, nextPageToken)."""
    pages = session.execute(
        f"EXEC {HPT}._list @projectsId = '{project}', @locationsId = 'us-central1', @pageSize = {page_size}"
    )
    items, token = pages.columns.index("hyperparameterTuningJobs"), pages.columns.index("nextPageToken")
    return [([j["displayName"] for j in json.loads(row[items])], row[token]) for row in pages.rows]


def test_a_page_token_in_where_starts_the_read_there_and_is_a_column(session, emulator, tuning):
    (first_page, first_token), *_ = _pages(session, tuning, 2)
    assert len(first_page) == 2 and first_token
    result = cleared(session, emulator).execute(
        f"SELECT displayName, pageToken FROM {HPT} WHERE locationsId = 'us-central1' AND projectsId = '{tuning}' "
        f"AND pageSize = 2 AND pageToken = '{first_token}' ORDER BY displayName"
    )
    # Every job but those of the first page, each row carrying the token given.
    assert result.rows == [(f"hpt-{i}", first_token) for i in range(5) if f"hpt-{i}" not in first_page]
    first = api_calls(emulator, "GET", "/hyperparameterTuningJobs")[0]
    assert first["query"]["pageToken"] == [first_token] and first["query"]["pageSize"] == ["2"]


def test_stackqls_select_example_with_its_optional_parameters_left_blank_runs(session, emulator):
    # StackQL's registry docs give every query parameter: `AND pageSize = '{{ pageSize }}'`, rendered blank.
    example = (
        f"SELECT displayName, state FROM {HPT} WHERE projectsId = 'demo-project' -- required\n"
        "AND locationsId = 'us-central1' -- required\n"
        "AND filter = '' AND pageSize = '' AND pageToken = '' AND readMask = ''"
    )
    rows = cleared(session, emulator).execute(example).rows
    assert (
        len(rows)
        == len(
            session.execute(
                f"SELECT 1 FROM {HPT} WHERE projectsId = 'demo-project' AND locationsId = 'us-central1'"
            ).rows
        )
        > 0
    )
    first = api_calls(emulator, "GET", "/hyperparameterTuningJobs")[0]
    assert not {"filter", "pageSize", "pageToken", "readMask"} & first["query"].keys()


def test_dryrun_shows_the_page_token_it_would_send(session):
    session.options.dryrun = True
    try:
        result = session.execute(
            f"SELECT displayName FROM {HPT} WHERE locationsId = 'us-central1' AND projectsId = 'demo-project' "
            "AND pageToken = 'abc'"
        )
    finally:
        session.options.dryrun = False
    [(_, _, request)] = result.rows
    assert "pageToken=abc" in request


def test_page_size_sets_the_size_of_each_page_and_every_page_is_still_read(session, emulator, tuning):
    result = cleared(session, emulator).execute(
        f"SELECT displayName, pageSize FROM {HPT} WHERE projectsId = '{tuning}' AND locationsId = 'us-central1' "
        "AND pageSize = 2 ORDER BY displayName"
    )
    sent = api_calls(emulator, "GET", "/hyperparameterTuningJobs")
    assert len(sent) == 3 and all(r["query"]["pageSize"] == ["2"] for r in sent)
    assert [(name, str(size)) for name, size in result.rows] == [(f"hpt-{i}", "2") for i in range(5)]


def test_compute_query_parameters_are_sent_and_do_not_filter_rows_out(session, emulator):
    result = cleared(session, emulator).execute(
        "SELECT COUNT(*) FROM google.compute.networks WHERE project = 'demo-project' AND maxResults = 5 "
        "AND orderBy = 'name' AND filter = 'name != \"x\"' AND pageToken = ''"
    )
    assert result.rows[0][0] >= 0
    [request] = api_calls(emulator, "GET", "/global/networks")
    query = request["query"]
    assert (
        query["maxResults"] == ["5"] and query["orderBy"] == ["name"] and query["filter"] == ['name != "x"']
    )
    assert "pageToken" not in query  # blank: not given


def test_compute_lists_take_return_partial_success_as_google_and_stackqls_docs_have_it(session, emulator):
    # The discovery documents skyql is built from omit it; providers/google/overlay.json adds it back.
    result = cleared(session, emulator).execute(
        "SELECT COUNT(*) FROM google.compute.networks WHERE project = 'demo-project' AND returnPartialSuccess = true"
    )
    assert result.rows[0][0] >= 0
    [request] = api_calls(emulator, "GET", "/global/networks")
    assert request["query"]["returnPartialSuccess"] == ["true"]
    session.execute(
        "SELECT name FROM google.compute.instances WHERE project = 'demo-project' "
        "AND returnPartialSuccess = 'false'"
    )
    assert api_calls(emulator, "GET", "/aggregated/instances")[-1]["query"]["returnPartialSuccess"] == [
        "false"
    ]


def test_reading_a_lists_page_fields_gives_one_row_per_page_as_stackqls_compute_docs_show(session, emulator):
    for i in range(5):
        emulator.add("compute", "projects/page-rows/global/networks", {"name": f"net-{i}"})
    # StackQL's registry docs' list example: the page's own fields (items, nextPageToken), one row per page.
    rows = session.execute(
        "SELECT json_array_length(items) AS n, nextPageToken IS NOT NULL AS more, warning "
        "FROM google.compute.networks WHERE project = 'page-rows' AND maxResults = 2 AND pageToken = ''"
    ).rows
    assert [(n, more) for n, more, _ in rows] == [(2, True), (2, True), (1, False)]
    # The item's fields are still rows of items.
    names = session.execute("SELECT name FROM google.compute.networks WHERE project = 'page-rows'").rows
    assert sorted(names) == [(f"net-{i}",) for i in range(5)]
    # A list that does not page (sqladmin's databases) is one row.
    emulator.add("sqladmin", "projects/page-rows/instances/db1/databases", {"name": "orders"})
    [(items, kind)] = session.execute(
        "SELECT items, kind FROM google.sqladmin.databases WHERE project = 'page-rows' AND instance = 'db1'"
    ).rows
    assert [item["name"] for item in json.loads(items)] == ["orders"]
    # A page field beside an item's field cannot be read in one row: the error says how to read it.
    with pytest.raises(SqlError, match="items is a field of the response pages of google.compute.networks"):
        session.execute("SELECT name, items FROM google.compute.networks WHERE project = 'page-rows'")


def test_a_query_parameter_with_a_dot_in_its_name_is_given_unquoted_as_stackqls_docs_write_it(
    session, emulator
):
    cleared(session, emulator).execute(
        "SELECT role, members FROM google.iam.service_accounts_iam_policies WHERE projectsId = 'demo-project' "
        "AND serviceAccountsId = 'sa@demo-project.iam.gserviceaccount.com' AND options.requestedPolicyVersion = '3'"
    )
    [request] = api_calls(emulator, "POST", ":getIamPolicy")
    assert request["query"]["options.requestedPolicyVersion"] == ["3"]


def test_a_query_parameter_not_given_with_an_equality_says_how_to_give_it(session):
    with pytest.raises(
        SqlError,
        match=r"^pageSize is a query parameter of google.aiplatform.hyperparameter_tuning_jobs"
        r", a column only when WHERE gives it with = or IN",
    ):
        session.execute(
            f"SELECT displayName FROM {HPT} WHERE projectsId = 'demo-project' "
            "AND locationsId = 'us-central1' AND pageSize > 3"
        )


# -- SHOW ... FROM ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "SHOW METHODS FROM google.ml.jobs",
        "SHOW RESOURCES FROM google.ml",
        "SHOW SERVICES FROM google LIKE 'ml'",
        "SHOW EXTENDED METHODS FROM google.ml.jobs LIKE 'projects_jobs_c%'",
    ],
)
def test_show_takes_from_as_well_as_in(session, statement):
    assert session.execute(statement).rows == session.execute(statement.replace(" FROM ", " IN ")).rows != []


# -- request bodies as StackQL writes them -------------------------------------------------------------


def test_bare_field_names_go_into_the_body_as_data_prefixed_ones_do(session, emulator):
    result = cleared(session, emulator).execute(
        "INSERT INTO google.compute.networks (project, name, autoCreateSubnetworks) "
        "SELECT 'demo-project', 'sem-bare-vpc', false"
    )
    [request] = api_calls(emulator, "POST", "/global/networks")
    assert request["path"] == "/compute/v1/projects/demo-project/global/networks"
    assert request["body"] == {"name": "sem-bare-vpc", "autoCreateSubnetworks": False}
    assert result.warnings == []


def test_a_parameter_and_a_body_field_of_one_name_both_go_where_they_belong(session, emulator):
    # StackQL's registry example for subnetworks gives `region` (the URL's) and `data__region` (the body's).
    cleared(session, emulator).execute(
        "INSERT INTO google.compute.subnetworks (project, region, data__name, data__network, data__region, "
        "data__ipCidrRange) SELECT 'demo-project', 'us-central1', 'sem-subnet', "
        "'projects/demo-project/global/networks/network-1', 'regions/us-central1', '10.9.0.0/24'"
    )
    [request] = api_calls(emulator, "POST", "/subnetworks")
    assert request["path"] == "/compute/v1/projects/demo-project/regions/us-central1/subnetworks"
    assert request["body"]["region"] == "regions/us-central1"


def test_the_same_column_twice_is_still_refused(session):
    with pytest.raises(SqlError, match="names name twice"):
        session.execute(
            "INSERT INTO google.compute.networks (project, name, data__name) SELECT 'demo-project', 'a', 'b'"
        )


def test_output_only_fields_of_a_generated_example_are_left_out_with_a_notice(session, emulator):
    result = cleared(session, emulator).execute(
        "INSERT INTO google.compute.networks (project, data__name, data__autoCreateSubnetworks, data__id, "
        "data__kind, data__selfLink, creationTimestamp) "
        "SELECT 'demo-project', 'sem-generated-vpc', false, '8140147672984831181', 'compute#network', "
        "'https://www.googleapis.com/compute/v1/projects/demo-project/global/networks/x', '2024-01-01T00:00:00Z'"
    )
    [request] = api_calls(emulator, "POST", "/global/networks")
    assert request["body"] == {"name": "sem-generated-vpc", "autoCreateSubnetworks": False}
    [notice] = result.warnings
    assert notice.startswith(
        "data__id, data__kind, data__selfLink, creationTimestamp are output only in google.compute.networks"
    )


def test_an_update_leaves_out_output_only_fields_and_sends_the_rest(session, emulator, jobs):
    result = cleared(session, emulator).execute(
        f"UPDATE google.ml.jobs SET labels = '{{\"team\": \"sem\"}}', state = 'RUNNING', createTime = '2024-01-01' "
        f"WHERE projectsId = '{jobs}' AND jobsId = 'job_a'"
    )
    [request] = api_calls(emulator, "PATCH")
    assert request["body"] == {"labels": {"team": "sem"}} and request["query"]["updateMask"] == ["labels"]
    assert result.warnings and "state, createTime are output only in google.ml.jobs" in result.warnings[0]


def test_the_cli_prints_the_notice_on_stderr_and_still_sends_the_request():
    done = cli(
        "--emulator",
        "INSERT INTO google.ml.jobs (projectsId, jobId, state, trainingInput) "
        "SELECT 'demo-project', 'sem_cli_job', 'RUNNING', '{\"region\": \"us-central1\"}'",
    )
    assert done.returncode == 0, done.stderr
    assert "skyql: warning: state is output only in google.ml.jobs" in done.stderr
    assert "1 row inserted" in done.stderr


def test_an_unknown_field_is_still_refused_with_the_valid_ones(session, emulator):
    with pytest.raises(NotFoundError, match=r"no column 'data__bogus' for INSERT.*valid columns: project, "):
        cleared(session, emulator).execute(
            "INSERT INTO google.compute.networks (project, data__name, data__bogus) SELECT 'demo-project', 'v', 1"
        )
    assert api_calls(emulator) == []


# -- EXEC as a subquery; SHOWRESULTS -------------------------------------------------------------------

POLICY = (
    '{"bindings": ['
    '{"role": "roles/ml.viewer", "members": ["user:a@example.com", "user:b@example.com"]}, '
    '{"role": "roles/ml.admin", "members": ["user:a@example.com", "user:b@example.com"]}, '
    '{"role": "roles/owner", "members": ["user:a@example.com"]}]}'
)
GET_POLICY = (
    "EXEC /*+ SHOWRESULTS */ google.ml.jobs_iam_policies.get_iam_policy @projectsId = '{}', @jobsId = 'job_a'"
)


@pytest.fixture(scope="module")
def policy(session: Session, jobs: str) -> str:
    """job_a of `jobs` with three bindings; the project."""
    session.execute(
        f"REPLACE google.ml.jobs_iam_policies SET data__policy = '{POLICY}' "
        f"WHERE projectsId = '{jobs}' AND jobsId = 'job_a'"
    )
    return jobs


def test_select_from_an_exec_reads_its_result_rows_as_stackql_does(session, emulator, policy):
    result = cleared(session, emulator).execute(
        f"SELECT members, GROUP_CONCAT(role) AS roles FROM ({GET_POLICY.format(policy)}) "
        "GROUP BY members ORDER BY members"
    )
    # StackQL's own test of this statement expects one row per distinct members list, its roles joined by commas.
    assert [(json.loads(m), r) for m, r in result.rows] == [
        (["user:a@example.com", "user:b@example.com"], "roles/ml.viewer,roles/ml.admin"),
        (["user:a@example.com"], "roles/owner"),
    ]
    [request] = api_calls(emulator)
    assert request["path"] == f"/v1/projects/{policy}/jobs/job_a:getIamPolicy"


def test_an_exec_subquery_works_in_a_cte_beside_a_provider_table(session, policy):
    result = session.execute(
        f"WITH bindings AS ({GET_POLICY.format(policy)}) "
        f"SELECT j.jobId, b.role FROM bindings b, google.ml.jobs j "
        f"WHERE j.projectsId = '{policy}' AND j.jobId = 'job_a' AND b.role LIKE 'roles/ml.%' ORDER BY b.role"
    )
    assert result.rows == [("job_a", "roles/ml.admin"), ("job_a", "roles/ml.viewer")]


def test_dryrun_of_a_select_from_an_exec_shows_the_exec_request_and_sends_nothing(session, emulator, policy):
    session.options.dryrun = True
    try:
        result = cleared(session, emulator).execute(f"SELECT role FROM ({GET_POLICY.format(policy)})")
    finally:
        session.options.dryrun = False
    [(resource, method, request)] = result.rows
    assert (resource, method) == ("google.ml.jobs_iam_policies", "projects_jobs_get_iam_policy")
    assert f"/v1/projects/{policy}/jobs/job_a:getIamPolicy" in request
    assert api_calls(emulator) == []


def test_an_exec_subquery_that_fails_fails_the_select(session, jobs):
    with pytest.raises(ApiError, match="404"):
        session.execute(f"SELECT * FROM ({GET_POLICY.format(jobs).replace('job_a', 'nope')})")


def test_a_column_called_exec_in_parentheses_is_still_a_column(session):
    assert session.execute("SELECT (exec) + 1 FROM (SELECT 41 AS exec)").rows == [(42,)]


def test_showresults_on_an_insert_or_update_shows_what_the_api_answered(session, emulator, jobs):
    inserted = session.execute(
        "INSERT /*+ SHOWRESULTS */ INTO google.ml.jobs (projectsId, jobId, trainingInput) "
        f"SELECT '{jobs}', 'job_shown', '{{\"region\": \"us-central1\"}}'"
    )
    row = dict(zip(inserted.columns, inserted.rows[0], strict=True))
    assert row["jobId"] == "job_shown" and row["state"] == "QUEUED" and row["projectsId"] == jobs
    updated = session.execute(
        f'UPDATE /*+ SHOWRESULTS */ google.ml.jobs SET labels = \'{{"k": "v"}}\' '
        f"WHERE projectsId = '{jobs}' AND jobsId = 'job_shown'"
    )
    row = dict(zip(updated.columns, updated.rows[0], strict=True))
    assert row["jobId"] == "job_shown" and json.loads(row["labels"]) == {"k": "v"}


def test_a_mutation_may_read_an_exec_subquery_and_dryrun_shows_both_requests(session, emulator, policy):
    update = (
        f"UPDATE google.ml.jobs SET labels = (SELECT json_object('bindings', count(*)::VARCHAR) "
        f"FROM ({GET_POLICY.format(policy)})) WHERE projectsId = '{policy}' AND jobsId = 'job_a'"
    )
    session.options.dryrun = True
    try:
        planned = cleared(session, emulator).execute(update)
    finally:
        session.options.dryrun = False
    assert [row[1] for row in planned.rows] == ["projects_jobs_get_iam_policy", "projects_jobs_patch"]
    assert api_calls(emulator) == []
    session.execute(update)
    [patch] = api_calls(emulator, "PATCH")
    assert patch["body"] == {"labels": {"bindings": "3"}}


def test_await_inside_an_exec_subquery_waits_for_the_operation(session, emulator):
    item = emulator.add(
        "aiplatform",
        "projects/sem-await/locations/us-central1/hyperparameterTuningJobs",
        {"displayName": "to-delete"},
    )
    job_id = item["name"].rsplit("/", 1)[-1]
    exec_delete = (
        f"EXEC /*+ AWAIT */ {HPT}.delete @projectsId = 'sem-await', @locationsId = 'us-central1', "
        f"@hyperparameterTuningJobsId = '{job_id}'"
    )
    result = session.execute(f"SELECT done, name FROM ({exec_delete})")
    [(done, name)] = result.rows
    assert done is True and "/operations/" in name
    assert api_calls(emulator, "GET", "/operations/"), "the operation was polled"


def test_hints_inside_an_exec_subquery_are_the_execs_and_not_the_statements():
    statement = parse_one(
        "UPDATE /*+ SHOWRESULTS */ google.ml.jobs SET labels = (SELECT json_object('n', count(*)::VARCHAR) "
        "FROM (EXEC /*+ AWAIT */ google.ml.jobs_iam_policies.get_iam_policy @projectsId = 'p', @jobsId = 'j')) "
        "WHERE projectsId = 'p' AND jobsId = 'j'"
    )
    assert statement.hints == {"SHOWRESULTS"}
    [table] = exec_tables(statement.expression)
    assert table.meta[EXEC_META].hints == {"AWAIT"}
    assert table.meta[EXEC_META].params == {"projectsId": "p", "jobsId": "j"}


def test_an_exec_subquery_with_an_empty_answer_is_no_rows(session, emulator, jobs):
    result = cleared(session, emulator).execute(
        f"SELECT count(*) FROM (EXEC google.ml.jobs.cancel @projectsId = '{jobs}', @jobsId = 'job_b') AS c"
    )
    assert result.rows == [(0,)]
    assert [r["path"] for r in api_calls(emulator, "POST")] == [f"/v1/projects/{jobs}/jobs/job_b:cancel"]
