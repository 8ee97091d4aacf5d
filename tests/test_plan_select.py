"""The SELECT planner: which methods are called with which parameters, and the SQL DuckDB runs after."""

from __future__ import annotations

import re

import duckdb
import pytest
import sqlglot

from skyql.errors import NotFoundError, ParameterError, SqlError
from skyql.plan import Fetch, JoinParam, Plan, plan_query
from skyql.registry import Registry
from skyql.sql import sqlite_json

HPTJ = "google.aiplatform.hyperparameter_tuning_jobs"

EXAMPLE_TUNING_JOBS = f"""
SELECT displayName, state, json_extract(studySpec, '$.metrics[0].metricId') AS metric,
       json_array_length(trials) AS n_trials
FROM {HPTJ}
WHERE projectsId = 'my-proj' AND locationsId IN ('us-central1', 'europe-west4')
  AND state = 'JOB_STATE_FAILED'
ORDER BY createTime DESC
"""

EXAMPLE_JOBS_POLICIES = """
SELECT j.jobId, j.state, p.role, p.members
FROM google.ml.jobs j
JOIN google.ml.jobs_iam_policies p ON p.projectsId = j.projectsId AND p.jobsId = j.jobId
WHERE j.projectsId = 'my-proj' AND j.state = 'RUNNING'
"""


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


def plan(registry: Registry, sql: str, params: list | None = None) -> Plan:
    return plan_query(sqlglot.parse_one(sql, read="duckdb"), registry, params)


def only(result: Plan) -> Fetch:
    assert len(result.fetches) == 1, result.describe()
    return result.fetches[0]


def test_tuning_jobs_example_lists_each_location_of_the_project(registry):
    result = plan(registry, EXAMPLE_TUNING_JOBS)
    fetch = only(result)
    assert (fetch.resource.id, fetch.method.name) == (HPTJ, "list")
    assert fetch.partitions == [
        {"projectsId": "my-proj", "locationsId": "us-central1"},
        {"projectsId": "my-proj", "locationsId": "europe-west4"},
    ]
    assert fetch.columns == ["createTime", "displayName", "state", "studySpec", "trials"]
    assert fetch.joins == [] and fetch.limit is None  # ORDER BY needs every row
    assert f"FROM {fetch.key} AS hyperparameter_tuning_jobs WHERE projectsId = 'my-proj'" in result.local_sql
    assert "state = 'JOB_STATE_FAILED' ORDER BY createTime DESC" in result.local_sql


def test_jobs_policies_example_takes_the_project_by_equality_and_job_ids_from_the_jobs(registry):
    result = plan(registry, EXAMPLE_JOBS_POLICIES)
    jobs, policies = result.fetches
    assert (jobs.resource.id, jobs.method.name, jobs.partitions) == (
        "google.ml.jobs",
        "projects_jobs_list",
        [{"projectsId": "my-proj"}],
    )
    assert (policies.resource.id, policies.method.name) == (
        "google.ml.jobs_iam_policies",
        "projects_jobs_get_iam_policy",
    )
    # p.projectsId = j.projectsId = 'my-proj': a literal; jobsId has none, so it comes from j.jobId.
    assert policies.partitions == [{"projectsId": "my-proj"}]
    # Only the running jobs' ids can meet the WHERE: only their policies are read.
    assert policies.joins == [JoinParam("jobsId", jobs.key, "jobId", f"{jobs.key}.state = 'RUNNING'")]
    assert policies.depends_on == [jobs.key] and jobs.depends_on == []
    assert jobs.columns == ["jobId", "state"] and policies.columns == ["members", "role"]
    assert policies.param_columns == ["projectsId", "jobsId"]
    assert f"FROM {jobs.key} AS j JOIN {policies.key} AS p ON p.projectsId = j.projectsId" in result.local_sql


@pytest.mark.parametrize(
    ("sql", "method", "partitions"),
    [
        ("SELECT * FROM google.ml.jobs WHERE projectsId = 'p'", "projects_jobs_list", [{"projectsId": "p"}]),
        (
            "SELECT * FROM google.ml.jobs WHERE projectsId = 'p' AND jobsId = 'train_1'",
            "projects_jobs_get",
            [{"projectsId": "p", "jobsId": "train_1"}],
        ),
        (
            f"SELECT * FROM {HPTJ} WHERE projectsId = 'p' AND locationsId = 'l' AND hyperparameterTuningJobsId = 42",
            "get",
            [{"projectsId": "p", "locationsId": "l", "hyperparameterTuningJobsId": "42"}],
        ),
        (
            "SELECT * FROM google.ml.jobs WHERE projectsId = 'p' AND filter = 'state=RUNNING' AND pageSize = 50",
            "projects_jobs_list",
            [{"projectsId": "p", "filter": "state=RUNNING", "pageSize": 50}],
        ),
        ("SELECT * FROM google.ml.jobs WHERE 'p' = PROJECTSID", "projects_jobs_list", [{"projectsId": "p"}]),
    ],
    ids=["list", "get-by-id", "get-by-numeric-id", "list-with-query-params", "reversed-and-any-case"],
)
def test_method_is_get_when_the_id_is_given_else_list(registry, sql, method, partitions):
    fetch = only(plan(registry, sql))
    assert fetch.method.name == method
    assert fetch.partitions == partitions


@pytest.mark.parametrize(
    ("where", "partitions"),
    [
        (
            "projectsId = 'p' AND locationsId IN ('us-central1', 'europe-west4')",
            [
                {"projectsId": "p", "locationsId": "us-central1"},
                {"projectsId": "p", "locationsId": "europe-west4"},
            ],
        ),
        (
            "projectsId IN ('a', 'b') AND locationsId IN ('x', 'y', 'x')",
            [
                {"projectsId": "a", "locationsId": "x"},
                {"projectsId": "a", "locationsId": "y"},
                {"projectsId": "b", "locationsId": "x"},
                {"projectsId": "b", "locationsId": "y"},
            ],
        ),
        (
            "(locationsId = 'x' OR locationsId = 'y') AND projectsId = 'p'",
            [{"projectsId": "p", "locationsId": "x"}, {"projectsId": "p", "locationsId": "y"}],
        ),
        (
            "projectsId = 'p' AND (locationsId IN ('x', 'y') OR locationsId = 'z')",
            [{"projectsId": "p", "locationsId": v} for v in ("x", "y", "z")],
        ),
        (
            # Each branch pins both: reading every combination is a superset, filtered locally.
            "(projectsId = 'a' AND locationsId = 'x') OR (projectsId = 'b' AND locationsId = 'y')",
            [
                {"projectsId": "a", "locationsId": "x"},
                {"projectsId": "a", "locationsId": "y"},
                {"projectsId": "b", "locationsId": "x"},
                {"projectsId": "b", "locationsId": "y"},
            ],
        ),
        (
            "projectsId = 'p' AND locationsId IN ('x', 'y') AND locationsId = 'y'",
            [{"projectsId": "p", "locationsId": "y"}],
        ),
    ],
    ids=[
        "in-list",
        "cartesian-product-deduplicated",
        "or-alternatives",
        "or-with-in",
        "or-of-ands",
        "narrowed",
    ],
)
def test_in_lists_and_ors_fan_out_into_partitions(registry, where, partitions):
    fetch = only(plan(registry, f"SELECT name FROM {HPTJ} WHERE {where}"))
    assert fetch.method.name == "list"
    assert fetch.partitions == partitions


@pytest.mark.parametrize(
    "sql",
    [
        "WITH c AS (SELECT * FROM google.ml.jobs WHERE projectsId = 'p') SELECT c.state FROM c",
        "SELECT d.state FROM (SELECT * FROM google.ml.jobs WHERE projectsId = 'p') AS d",
        "SELECT 1 WHERE 'x' IN (SELECT state FROM google.ml.jobs WHERE projectsId = 'p')",
        # A CTE that only filters and projects takes its readers' conditions.
        "WITH c AS (SELECT * FROM google.ml.jobs) SELECT state FROM c WHERE projectsId = 'p'",
        "SELECT d.state FROM (SELECT projectsId AS pid, state FROM google.ml.jobs) d WHERE d.pid = 'p'",
        "WITH a AS (SELECT * FROM google.ml.jobs), b AS (SELECT * FROM a) SELECT state FROM b WHERE projectsId = 'p'",
    ],
    ids=["cte", "derived-table", "in-subquery", "reader-of-cte", "renamed-in-derived-table", "cte-of-cte"],
)
def test_parameters_are_found_inside_ctes_and_subqueries(registry, sql):
    fetch = only(plan(registry, sql))
    assert (fetch.method.name, fetch.partitions, fetch.columns) == (
        "projects_jobs_list",
        [{"projectsId": "p"}],
        ["state"],
    )


@pytest.mark.parametrize(
    "sql",
    [
        "WITH c AS (SELECT * FROM google.ml.jobs) SELECT state FROM c WHERE projectsId = 'p' UNION ALL SELECT state FROM c",
        "WITH c AS (SELECT * FROM google.ml.jobs LIMIT 5) SELECT state FROM c WHERE projectsId = 'p'",
        "WITH c AS (SELECT projectsId, count(*) AS n FROM google.ml.jobs GROUP BY 1) SELECT n FROM c WHERE projectsId = 'p'",
    ],
    ids=["one-reader-unconstrained", "limit-inside", "grouped-inside"],
)
def test_a_ctes_readers_conditions_do_not_reach_inside_when_rows_outside_them_matter(registry, sql):
    with pytest.raises(ParameterError, match="google.ml.jobs needs projectsId in WHERE; got none"):
        plan(registry, sql)


def test_union_plans_both_sides_and_a_cte_read_twice_is_fetched_for_both_readers(registry):
    union = plan(
        registry,
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'a' "
        "UNION ALL SELECT jobId FROM google.ml.jobs WHERE projectsId = 'b'",
    )
    assert [f.partitions for f in union.fetches] == [[{"projectsId": "a"}], [{"projectsId": "b"}]]
    assert [f.key for f in union.fetches] == ["google_ml_jobs_1", "google_ml_jobs_2"]
    assert (
        "FROM google_ml_jobs_1 AS jobs" in union.local_sql
        and "FROM google_ml_jobs_2 AS jobs" in union.local_sql
    )
    cte = plan(
        registry,
        "WITH c AS (SELECT * FROM google.ml.jobs) "
        "SELECT jobId FROM c WHERE projectsId = 'a' UNION ALL SELECT jobId FROM c WHERE c.projectsId = 'b'",
    )
    assert only(cte).partitions == [{"projectsId": "a"}, {"projectsId": "b"}]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a.jobId, b.state FROM google.ml.jobs a JOIN google.ml.jobs b ON a.jobId = b.jobId "
        "WHERE a.projectsId = 'p' AND b.projectsId = 'p'",
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p' "
        "UNION SELECT state FROM google.ml.jobs WHERE projectsId IN ('p')",
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p' "
        "AND jobId IN (SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p' AND state = 'RUNNING')",
    ],
    ids=["self-join", "union", "in-subquery"],
)
def test_the_same_resource_with_the_same_parameters_is_fetched_once(registry, sql):
    result = plan(registry, sql)
    fetch = only(result)
    assert result.local_sql.count(f"FROM {fetch.key}") + result.local_sql.count(f"JOIN {fetch.key}") == 2
    assert set(fetch.columns) <= {"jobId", "state"}


@pytest.mark.parametrize(
    ("sql", "policies_partitions"),
    [
        (
            "SELECT p.role FROM google.ml.jobs_iam_policies p WHERE p.projectsId = 'p' "
            "AND p.jobsId IN (SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p' AND state = 'RUNNING')",
            [{"projectsId": "p"}],
        ),
        (
            "SELECT j.jobId FROM google.ml.jobs j WHERE j.projectsId = 'p' AND EXISTS "
            "(SELECT * FROM google.ml.jobs_iam_policies p WHERE p.projectsId = j.projectsId AND p.jobsId = j.jobId)",
            [{"projectsId": "p"}],
        ),
        (
            "WITH j AS (SELECT * FROM google.ml.jobs WHERE projectsId = 'p') SELECT p.role FROM j "
            "JOIN google.ml.jobs_iam_policies p ON p.jobsId = j.jobId WHERE p.projectsId IN ('p', 'q')",
            [{"projectsId": "p"}, {"projectsId": "q"}],
        ),
        (
            "SELECT p.role FROM google.ml.jobs j LEFT JOIN google.ml.jobs_iam_policies p "
            "ON p.jobsId = j.jobId AND p.projectsId = 'q' WHERE j.projectsId = 'p'",
            [{"projectsId": "q"}],
        ),
        (
            "SELECT p.role FROM google.ml.jobs j JOIN google.ml.jobs_iam_policies p USING (projectsId) "
            "WHERE projectsId = 'p' AND p.jobsId = j.jobId",
            [{"projectsId": "p"}],
        ),
        (
            "SELECT p.role FROM (google.ml.jobs j JOIN google.ml.jobs_iam_policies p "
            "ON p.jobsId = j.jobId AND p.projectsId = j.projectsId) WHERE j.projectsId = 'p'",
            [{"projectsId": "p"}],
        ),
    ],
    ids=["in-subquery", "correlated-exists", "through-a-cte", "left-join-on", "using", "parenthesized-join"],
)
def test_a_required_parameter_equal_to_another_tables_column_is_a_join_parameter(
    registry, sql, policies_partitions
):
    jobs, policies = plan(registry, sql).fetches
    assert jobs.resource.id == "google.ml.jobs" and jobs.partitions == [{"projectsId": "p"}]
    assert policies.partitions == policies_partitions
    assert [(j.param, j.source, j.column) for j in policies.joins] == [("jobsId", jobs.key, "jobId")]
    assert "jobId" in jobs.columns


def test_a_literal_on_the_joined_column_is_used_instead_of_a_join(registry):
    result = plan(
        registry,
        "SELECT p.role FROM google.ml.jobs j JOIN google.ml.jobs_iam_policies p ON p.jobsId = j.jobId "
        "AND p.projectsId = j.projectsId WHERE j.projectsId = 'p' AND j.jobId IN ('a', 'b')",
    )
    jobs, policies = result.fetches
    assert policies.joins == [] and policies.partitions == [
        {"projectsId": "p", "jobsId": "a"},
        {"projectsId": "p", "jobsId": "b"},
    ]


def test_outer_join_conditions_do_not_narrow_the_table_the_join_keeps_whole(registry):
    # ON of a LEFT JOIN filters the joined table only: every job is kept, in both projects.
    jobs, _ = plan(
        registry,
        "SELECT 1 FROM google.ml.jobs j LEFT JOIN google.ml.jobs_iam_policies p "
        "ON p.jobsId = j.jobId AND p.projectsId = j.projectsId AND j.projectsId = 'x' "
        "WHERE j.projectsId IN ('x', 'y')",
    ).fetches
    assert jobs.partitions == [{"projectsId": "x"}, {"projectsId": "y"}]
    # ON of a RIGHT JOIN filters the left side only: the policies keep every row, so need a jobsId.
    with pytest.raises(ParameterError, match="google.ml.jobs_iam_policies needs jobsId and projectsId"):
        plan(
            registry,
            "SELECT 1 FROM google.ml.jobs j RIGHT JOIN google.ml.jobs_iam_policies p "
            "ON p.jobsId = j.jobId AND p.projectsId = 'p' WHERE j.projectsId = 'p'",
        )


def test_tables_that_take_parameters_from_each_other_are_a_cycle(registry):
    with pytest.raises(
        SqlError, match=r"cycle .*give one of them literal values in WHERE, e.g. a.projectsId"
    ):
        plan(
            registry,
            "SELECT * FROM google.ml.jobs a JOIN google.ml.jobs_iam_policies b "
            "ON b.jobsId = a.jobId AND b.projectsId = a.projectsId",
        )


@pytest.mark.parametrize(
    ("sql", "columns"),
    [
        ("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p' AND state = 'RUNNING'", ["jobId", "state"]),
        ("SELECT * FROM google.ml.jobs WHERE projectsId = 'p'", None),
        ("SELECT j.*, 1 FROM google.ml.jobs j WHERE projectsId = 'p'", None),
        ("SELECT to_json(j) FROM google.ml.jobs j WHERE projectsId = 'p'", None),
        ("SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'p'", []),
        ("SELECT j.trainingInput.region FROM google.ml.jobs j WHERE projectsId = 'p'", ["trainingInput"]),
        ("SELECT google.ml.jobs.state FROM google.ml.jobs WHERE projectsId = 'p'", ["state"]),
        ("SELECT key FROM google.ml.jobs j, json_each(j.labels) WHERE projectsId = 'p'", ["labels"]),
        (
            "SELECT state AS s FROM google.ml.jobs WHERE projectsId = 'p' ORDER BY s, endTime",
            ["endTime", "state"],
        ),
        ("WITH c AS (SELECT * FROM google.ml.jobs WHERE projectsId = 'p') SELECT * FROM c", None),
        (
            "WITH c AS (SELECT DISTINCT * FROM google.ml.jobs WHERE projectsId = 'p') SELECT state FROM c",
            None,
        ),
        (
            "WITH c AS (SELECT * FROM google.ml.jobs WHERE projectsId = 'p'), d AS (SELECT *, 1 AS one FROM c) "
            "SELECT d.jobId, one FROM d WHERE d.createTime > '2024'",
            ["createTime", "jobId"],
        ),
    ],
    ids=[
        "named",
        "star",
        "table-star",
        "whole-row",
        "count-star",
        "struct-access",
        "full-name",
        "table-function",
        "alias-in-order-by",
        "star-reaching-the-result",
        "distinct-star",
        "star-followed-through-ctes",
    ],
)
def test_columns_used_are_the_row_columns_the_statement_reads(registry, sql, columns):
    assert only(plan(registry, sql)).columns == columns


@pytest.mark.parametrize(
    ("sql", "limit"),
    [
        ("SELECT * FROM google.ml.jobs WHERE projectsId = 'p' LIMIT 10", 10),
        ("SELECT jobId FROM google.ml.jobs WHERE projectsId IN ('a', 'b') LIMIT 10 OFFSET 5", 15),
        ("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p' AND pageSize = 5 LIMIT 3", 3),
        ("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p' LIMIT 0", 1),
        ("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p'", None),
        ("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p' AND state = 'RUNNING' LIMIT 10", None),
        ("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p' ORDER BY jobId LIMIT 10", None),
        ("SELECT state FROM google.ml.jobs WHERE projectsId = 'p' GROUP BY state LIMIT 10", None),
        ("SELECT DISTINCT state FROM google.ml.jobs WHERE projectsId = 'p' LIMIT 10", None),
        ("SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'p' LIMIT 10", None),
        ("SELECT row_number() OVER () FROM google.ml.jobs WHERE projectsId = 'p' LIMIT 10", None),
        ("SELECT unnest(json_keys(labels)) FROM google.ml.jobs WHERE projectsId = 'p' LIMIT 10", None),
        ("WITH c AS (SELECT * FROM google.ml.jobs WHERE projectsId = 'p') SELECT * FROM c LIMIT 10", None),
        (
            "SELECT a.jobId FROM google.ml.jobs a JOIN google.ml.jobs b ON a.jobId = b.jobId "
            "WHERE a.projectsId = 'p' AND b.projectsId = 'p' LIMIT 10",
            None,
        ),
    ],
    ids=[
        "plain",
        "offset",
        "query-parameter",
        "zero-still-reads-one",
        "no-limit",
        "other-condition",
        "order-by",
        "group-by",
        "distinct",
        "aggregate",
        "window",
        "set-returning",
        "in-cte",
        "join",
    ],
)
def test_limit_is_pushed_down_only_for_a_plain_scan(registry, sql, limit):
    assert only(plan(registry, sql)).limit == limit


def test_qmark_parameters_bind_in_text_order_and_become_literals_in_the_local_sql(registry):
    result = plan(
        registry,
        "WITH c AS (SELECT * FROM google.ml.jobs WHERE projectsId = ?) "
        "SELECT c.jobId, ? AS tag FROM c WHERE c.state IN (?, ?) LIMIT ?",
        ["my-proj", "it's", "RUNNING", "QUEUED", 5],
    )
    assert only(result).partitions == [{"projectsId": "my-proj"}]
    assert "?" not in result.local_sql
    assert "WHERE projectsId = 'my-proj'" in result.local_sql
    assert "'it''s' AS tag" in result.local_sql and "IN ('RUNNING', 'QUEUED') LIMIT 5" in result.local_sql


def test_qmark_values_become_partitions_and_numbered_placeholders_pick_by_number(registry):
    fetch = only(
        plan(
            registry,
            f"SELECT name FROM {HPTJ} WHERE projectsId = ? AND locationsId IN (?, ?)",
            ["p", "x", "y"],
        )
    )
    assert fetch.partitions == [
        {"projectsId": "p", "locationsId": "x"},
        {"projectsId": "p", "locationsId": "y"},
    ]
    numbered = only(
        plan(registry, "SELECT state FROM google.ml.jobs WHERE jobsId = $2 AND projectsId = $1", ["p", "j"])
    )
    assert (numbered.method.name, numbered.partitions) == (
        "projects_jobs_get",
        [{"projectsId": "p", "jobsId": "j"}],
    )


@pytest.mark.parametrize(
    ("sql", "params", "message"),
    [
        (
            "SELECT jobId FROM google.ml.jobs WHERE projectsId = ?",
            [],
            "has 1 ? placeholder but 0 parameters given",
        ),
        (
            "SELECT jobId FROM google.ml.jobs WHERE projectsId = ?",
            None,
            "has 1 ? placeholder but 0 parameters given",
        ),
        (
            "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p'",
            ["x"],
            "1 parameter given but the statement has no",
        ),
        ("SELECT jobId FROM google.ml.jobs WHERE projectsId = ?", [{1, 2}], "parameter 1 is a set"),
        ("SELECT ? AS j", [{"at": object()}], "parameter 1 cannot be written as JSON"),
    ],
    ids=["too-few", "none", "too-many", "unsupported-type", "not-json"],
)
def test_wrong_parameters_are_reported(registry, sql, params, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        plan(registry, sql, params)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            f"SELECT * FROM {HPTJ} WHERE projectsId = 'my-proj'",
            f"{HPTJ} needs locationsId and projectsId in WHERE; got projectsId. "
            "Add locationsId = '...', or locationsId IN ('...', '...') to read several",
        ),
        (
            "SELECT * FROM google.ml.jobs j",
            "google.ml.jobs needs projectsId in WHERE; got none. Add j.projectsId = '...'",
        ),
        (
            # An OR with another column does not pin the parameter.
            "SELECT * FROM google.ml.jobs WHERE projectsId = 'p' OR state = 'RUNNING'",
            "google.ml.jobs needs projectsId in WHERE; got none",
        ),
        (
            "SELECT * FROM google.ml.jobs_iam_policies WHERE projectsId = 'p'",
            "google.ml.jobs_iam_policies needs jobsId and projectsId in WHERE; got projectsId",
        ),
        (
            "SELECT * FROM google.ml.jobs WHERE projectsId = 'a' AND projectsId = 'b'",
            "the conditions on projectsId contradict each other",
        ),
        (
            "SELECT * FROM google.ml.jobs WHERE projectsId = 'p' AND pageSize = 'ten'",
            "pageSize takes an integer",
        ),
        (
            "SELECT * FROM google.ml.jobs WHERE projectsId = 'p' AND jobsId = 'j' AND filter = 'x'",
            "read with projects_jobs_get, which does not take filter; projects_jobs_list takes it and needs projectsId",
        ),
    ],
    ids=[
        "missing-location",
        "missing-all",
        "or-with-other-column",
        "missing-id",
        "contradiction",
        "bad-type",
        "unusable",
    ],
)
def test_parameter_errors_say_what_to_add(registry, sql, message):
    with pytest.raises(ParameterError) as err:
        plan(registry, sql)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "SELECT * FROM google.aiplatform.hyperparameter_tuning_job WHERE projectsId = 'p'",
            f"unknown resource google.aiplatform.hyperparameter_tuning_job (did you mean {HPTJ}",
        ),
        ("SELECT * FROM google.mll.jobs", "unknown service google.mll (did you mean ml"),
        (
            "SELECT * FROM google.ml",
            "google.ml is not a resource: name a resource as provider.service.resource, e.g. google.ml.jobs; "
            "SHOW RESOURCES IN google.ml lists them",
        ),
        ("SELECT * FROM google.nosuchservice", "SHOW SERVICES IN google lists them"),
        (
            f"SELECT * FROM google.ml.{'x' * 5000}",
            f"unknown resource google.ml.{'x' * 39}…{'x' * 39}; SHOW RESOURCES IN google.ml lists them",
        ),
    ],
    ids=["resource", "service", "service-as-table", "two-part-unknown", "long-name-cut"],
)
def test_unknown_names_are_not_found_with_suggestions(registry, sql, message):
    with pytest.raises(NotFoundError) as err:
        plan(registry, sql)
    assert message in str(err.value)


def test_tables_that_are_not_provider_resources_are_left_alone(registry):
    result = plan(
        registry,
        "WITH ids AS (SELECT 'a' AS id) SELECT v.x, t.y, ids.id, j.state "
        "FROM (VALUES (1)) AS v(x), other.db.tbl AS t, ids, google.ml.jobs AS j, json_each(j.labels) "
        "WHERE j.projectsId = 'p'",
    )
    fetch = only(result)
    assert (
        "(VALUES (1)) AS v(x), other.db.tbl AS t, ids, google_ml_jobs_1 AS j, SQLITE_JSON_EACH(j.labels, '$') AS json_each"
        in (result.local_sql)
    )
    assert fetch.columns == ["labels", "state"]


def test_a_fetch_key_never_clashes_with_a_name_in_the_statement(registry):
    result = plan(
        registry,
        "WITH google_ml_jobs_1 AS (SELECT 1 AS x) SELECT * FROM google.ml.jobs, google_ml_jobs_1 WHERE projectsId = 'p'",
    )
    assert only(result).key == "google_ml_jobs_2"


def test_describe_prints_one_line_per_fetch_then_the_local_sql(registry):
    lines = plan(registry, EXAMPLE_JOBS_POLICIES).describe()
    assert lines == [
        "google_ml_jobs_1: google.ml.jobs.projects_jobs_list, 1 partition (projectsId = 'my-proj'); columns jobId, state",
        "google_ml_jobs_iam_policies_1: google.ml.jobs_iam_policies.projects_jobs_get_iam_policy, 1 partition "
        "(projectsId = 'my-proj'); jobsId = each distinct google_ml_jobs_1.jobId where google_ml_jobs_1.state = "
        "'RUNNING'; columns members, role",
        "local: " + plan(registry, EXAMPLE_JOBS_POLICIES).local_sql,
    ]
    tuning = plan(registry, EXAMPLE_TUNING_JOBS + " LIMIT 3").describe()[0]
    assert "2 partitions (projectsId = 'my-proj', locationsId IN ('us-central1', 'europe-west4'))" in tuning


_DUCKDB_TYPES = {
    "object": "JSON",
    "array": "JSON",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
}


@pytest.mark.parametrize(
    "sql",
    [
        EXAMPLE_TUNING_JOBS,
        EXAMPLE_JOBS_POLICIES,
        "WITH c AS (SELECT * FROM google.ml.jobs WHERE projectsId = 'p') SELECT c.state, count(*) FROM c GROUP BY 1",
        "SELECT google.ml.jobs.state, jobs.jobId FROM google.ml.jobs WHERE google.ml.jobs.projectsId = 'p'",
        "SELECT j.jobId, e.key FROM google.ml.jobs j, json_each(j.labels) AS e WHERE projectsId = 'p'",
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'a' UNION SELECT jobId FROM google.ml.jobs WHERE projectsId = 'b'",
        "SELECT j.jobId FROM google.ml.jobs j WHERE j.projectsId = 'p' AND EXISTS "
        "(SELECT * FROM google.ml.jobs_iam_policies p WHERE p.projectsId = j.projectsId AND p.jobsId = j.jobId)",
    ],
    ids=["tuning-jobs", "jobs-policies", "cte-group-by", "full-names", "json-each", "union", "exists"],
)
def test_local_sql_runs_in_duckdb_on_the_fetched_tables(registry, sql):
    result = plan(registry, sql)
    con = duckdb.connect()
    sqlite_json.install(con)  # the SQLite json1 functions the rewrite calls
    for fetch in result.fetches:
        row = [
            f'"{c.name}" {_DUCKDB_TYPES.get(c.type, "VARCHAR")}' for c in fetch.resource.columns(fetch.method)
        ]
        params = [
            f'"{p}" VARCHAR' for p in dict.fromkeys([*fetch.param_columns, *fetch.resource.param_names])
        ]
        con.execute(f'CREATE TABLE "{fetch.key}" ({", ".join(row + params)})')
    assert con.execute(result.local_sql).fetchall() == []
