"""Real StackQL statements for Google (tests/stackql_corpus/corpus.yaml) plan and run in skyql as they are."""

from __future__ import annotations

import pytest

from tests import stackql_corpus
from tests.stackql_corpus import Report


@pytest.fixture(scope="module")
def report() -> Report:
    """Every statement planned with --dryrun, then run on one in-process emulator (a few seconds)."""
    return stackql_corpus.run()


def test_corpus_holds_at_least_200_real_statements_each_with_its_source() -> None:
    statements = stackql_corpus.load()["statements"]
    assert len(statements) >= 200
    assert len({s["id"] for s in statements}) == len(statements)
    for s in statements:
        source = s["source"]
        assert source["repo"] and source["path"] and len(source["commit"]) == 40, s["id"]
        assert "google" in s["sql"].lower(), s["id"]
    # Wrong at source is for statements that could not work in StackQL either: rare, and each one says why.
    wrong = [s for s in statements if "wrong_at_source" in s]
    assert all(len(s["wrong_at_source"]) > 20 for s in wrong)
    assert len(wrong) <= len(statements) * 0.05


def test_the_emulator_run_swaps_only_the_authors_project_zone_and_region() -> None:
    rules = stackql_corpus.load()["substitutions"]
    sql = (
        "SELECT name FROM google.compute.instances WHERE project = 'stackql-demo' "
        "AND zone = 'australia-southeast1-a' AND name = 'stackql-demo'"
    )
    assert stackql_corpus.substitute(sql, rules) == (
        "SELECT name FROM google.compute.instances WHERE project = 'demo-project' "
        "AND zone = 'us-central1-a' AND name = 'demo-project'"
    )
    link = "https://www.googleapis.com/compute/v1/projects/stackql-demo/global/networks/my-vpc"
    assert "/projects/demo-project/" in stackql_corpus.substitute(link, rules)


def test_no_corpus_statement_crashes_skyql(report: Report) -> None:
    """Whatever fails, fails with a skyql error a user can read, never a traceback."""
    crashes = [
        (o.id, o.plan_error or o.run_error)
        for o in report.outcomes
        if "CRASH" in (o.plan_error or "") + (o.run_error or "")
    ]
    assert crashes == []


def test_stackql_corpus_plans_97_percent_and_runs_90_percent_unchanged(report: Report) -> None:
    print(report.summary())
    assert report.rate("planned") >= 0.97, report.summary()
    assert report.rate("ran") >= 0.90, report.summary()
