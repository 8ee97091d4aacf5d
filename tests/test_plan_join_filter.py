"""Join parameters read only the source rows the WHERE lets through: fewer requests, the same answer."""

from __future__ import annotations

import pytest

from skyql.plan import Plan, plan_query
from skyql.registry import Registry
from skyql.sql import parse_one

JOIN = (
    "SELECT j.jobId, p.role FROM google.ml.jobs j JOIN google.ml.jobs_iam_policies p "
    "ON p.projectsId = j.projectsId AND p.jobsId = j.jobId WHERE j.projectsId = 'p' AND "
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


def plan(registry: Registry, sql: str) -> Plan:
    return plan_query(parse_one(sql).expression, registry)


def join_filter(registry: Registry, sql: str) -> str | None:
    fetches = plan(registry, sql).fetches
    (policies,) = [f for f in fetches if f.resource.id == "google.ml.jobs_iam_policies"]
    (join,) = policies.joins
    assert join.source == fetches[0].key
    return join.where


def test_conditions_on_the_source_alone_filter_its_values_and_the_rest_are_left_out(registry):
    where = join_filter(
        registry,
        JOIN
        + "j.state IN ('RUNNING', 'QUEUED') AND p.role = 'roles/owner' AND (j.state = 'X' OR p.role = 'y') "
        "AND j.createTime > now() - INTERVAL 1 DAY AND j.jobId <> 'job_9'",
    )
    assert where == "google_ml_jobs_1.state IN ('RUNNING', 'QUEUED') AND google_ml_jobs_1.jobId <> 'job_9'"


@pytest.mark.parametrize(
    "condition",
    [
        "j.createTime > current_timestamp - INTERVAL 1 DAY",
        "random() < j.jobPosition",
        "j.createTime > datetime('now', '-7 days')",
        "j.jobId IN (SELECT jobId FROM google.ml.jobs WHERE projectsId = 'q')",
        "EXISTS (SELECT 1 FROM google.ml.jobs x WHERE x.projectsId = 'q' AND x.jobId = j.jobId)",
        "j.jobId = p.jobsId",
    ],
    ids=["current-timestamp", "random", "sqlite-now", "subquery", "exists", "other-table"],
)
def test_conditions_that_may_change_or_read_other_tables_do_not_filter(registry, condition):
    assert join_filter(registry, JOIN + condition) is None


def test_the_project_condition_that_chose_the_requests_is_not_repeated(registry):
    assert join_filter(registry, JOIN + "1 = 1") is None


def test_json_conditions_keep_their_sqlite_meaning_in_the_filter(registry):
    where = join_filter(registry, JOIN + "json_extract(j.labels, '$.team') = 'a'")
    assert where is not None
    assert where.lower() == "sqlite_json_text(google_ml_jobs_1.labels, '$.team') = 'a'"


def test_a_subquery_source_is_filtered_by_its_own_where(registry):
    sql = (
        "SELECT p.role FROM google.ml.jobs_iam_policies p WHERE p.projectsId = 'p' AND p.jobsId IN "
        "(SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p' AND state = 'RUNNING')"
    )
    assert join_filter(registry, sql) == "google_ml_jobs_1.state = 'RUNNING'"


def test_dryrun_lines_show_the_filter(registry):
    lines = plan(registry, JOIN + "j.state = 'RUNNING'").describe()
    assert (
        "jobsId = each distinct google_ml_jobs_1.jobId where google_ml_jobs_1.state = 'RUNNING'" in lines[1]
    )
