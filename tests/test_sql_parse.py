"""Text -> Statement: StackQL's statements, standard SQL through sqlglot, hints, and the errors users see."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from skyql.errors import SqlError
from skyql.registry import Registry
from skyql.sql import parse, parse_one
from skyql.sql import statements as st

# (sql, statement class, fields other than text, hints and line)
METADATA: list[tuple[str, type[st.Statement], dict[str, Any]]] = [
    ("SHOW PROVIDERS", st.ShowProviders, {}),
    ("show providers like 'goo%'", st.ShowProviders, {"like": "goo%"}),
    ("SHOW SERVICES IN google", st.ShowServices, {"provider": "google"}),
    (
        "show extended services in google like '%ai%';",
        st.ShowServices,
        {"provider": "google", "extended": True, "like": "%ai%"},
    ),
    ("SHOW RESOURCES IN google.aiplatform", st.ShowResources, {"service": "google.aiplatform"}),
    (
        "SHOW EXTENDED RESOURCES IN google.ml LIKE 'job%'",
        st.ShowResources,
        {"service": "google.ml", "extended": True, "like": "job%"},
    ),
    (
        "SHOW METHODS IN google.aiplatform.hyperparameter_tuning_jobs",
        st.ShowMethods,
        {"resource": "google.aiplatform.hyperparameter_tuning_jobs"},
    ),
    (
        'SHOW EXTENDED METHODS IN `google`."ml".jobs',
        st.ShowMethods,
        {"resource": "google.ml.jobs", "extended": True},
    ),
    ("SHOW METHODS IN `google.ml.jobs`", st.ShowMethods, {"resource": "google.ml.jobs"}),
    ("DESCRIBE google.ml.jobs", st.Describe, {"resource": "google.ml.jobs"}),
    ("describe extended google.ml.jobs", st.Describe, {"resource": "google.ml.jobs", "extended": True}),
    (
        "DESC google.aiplatform.hyperparameter_tuning_jobs",
        st.Describe,
        {"resource": "google.aiplatform.hyperparameter_tuning_jobs"},
    ),
    ("DESCRIBE METHOD google.ml.jobs.create", st.DescribeMethod, {"method": "google.ml.jobs.create"}),
    (
        "DESCRIBE METHOD EXTENDED google.ml.jobs.create",
        st.DescribeMethod,
        {"method": "google.ml.jobs.create", "extended": True},
    ),
    (
        "DESCRIBE EXTENDED METHOD google.ml.jobs.create",
        st.DescribeMethod,
        {"method": "google.ml.jobs.create", "extended": True},
    ),
    ("SHOW INSERT INTO google.ml.jobs", st.ShowInsert, {"resource": "google.ml.jobs"}),
    ("REGISTRY LIST", st.RegistryList, {}),
    ("registry list google", st.RegistryList, {"provider": "google"}),
    ("REGISTRY PULL google", st.RegistryPull, {"provider": "google"}),
    ("REGISTRY PULL google v24.11.00274", st.RegistryPull, {"provider": "google", "version": "v24.11.00274"}),
    (
        "REGISTRY PULL google 'v24.11.00274';",
        st.RegistryPull,
        {"provider": "google", "version": "v24.11.00274"},
    ),
]


@pytest.mark.parametrize(("sql", "cls", "fields"), METADATA, ids=[m[0] for m in METADATA])
def test_stackql_metadata_statements_parse_into_their_statement(sql, cls, fields):
    statement = parse_one(sql)
    assert statement == cls(statement.text, **fields)


@pytest.mark.parametrize(
    ("sql", "condition"),
    [
        ("SHOW SERVICES IN google WHERE name LIKE '%ai%'", "name LIKE '%ai%'"),
        (
            "SHOW RESOURCES IN google.ml WHERE id = 'google.ml.jobs' OR name = 'x'",
            "id = 'google.ml.jobs' OR name = 'x'",
        ),
        ("SHOW METHODS IN google.ml.jobs WHERE SQLVerb = 'SELECT'", "SQLVerb = 'SELECT'"),
        ("SHOW PROVIDERS WHERE name = 'google'", "name = 'google'"),
    ],
)
def test_show_where_is_kept_as_an_expression_for_the_executor(sql, condition):
    statement = parse_one(sql)
    assert isinstance(statement.where, exp.Expression)
    assert statement.where.sql(dialect="duckdb") == condition
    assert statement.like is None


EXECS: list[tuple[str, str, dict[str, Any], Any]] = [
    (
        "EXEC google.ml.jobs.cancel @projectsId = 'p', @jobsId = 'j'",
        "google.ml.jobs.cancel",
        {"projectsId": "p", "jobsId": "j"},
        None,
    ),
    # StackQL writes @@json without a comma before it; with one is fine too.
    (
        """EXEC google.ml.jobs_iam_policies.test_iam_permissions @projectsId = 'p', @jobsId = 'j'
        @@json = '{"permissions": ["ml.jobs.get"]}'""",
        "google.ml.jobs_iam_policies.test_iam_permissions",
        {"projectsId": "p", "jobsId": "j"},
        '{"permissions": ["ml.jobs.get"]}',
    ),
    (
        "EXEC google.ml.jobs.create @projectsId = 'p', @@json = '{\"jobId\": \"a\"}'",
        "google.ml.jobs.create",
        {"projectsId": "p"},
        '{"jobId": "a"}',
    ),
    ("exec google.ml.jobs.list", "google.ml.jobs.list", {}, None),
    (
        "EXEC google.compute.instances.delete @project='p', @pageSize=10, @ratio=0.5, @offset=-3, @big=1e3",
        "google.compute.instances.delete",
        {"project": "p", "pageSize": 10, "ratio": 0.5, "offset": -3, "big": 1000.0},
        None,
    ),
    (
        "EXEC google.ml.jobs.list @showDeleted = TRUE, @force = false, @filter = NULL, @q = 'it''s'",
        "google.ml.jobs.list",
        {"showDeleted": True, "force": False, "filter": None, "q": "it's"},
        None,
    ),
    # A JSON literal written as a string stays a string; quoted names keep their case.
    (
        "EXEC google.ml.jobs.patch @\"projectsId\" = 'p', @labels = '{\"a\": 1}'",
        "google.ml.jobs.patch",
        {"projectsId": "p", "labels": '{"a": 1}'},
        None,
    ),
    (
        "EXEC `google`.`sheets`.`values`.`update` @range = 'A1'",
        "google.sheets.values.update",
        {"range": "A1"},
        None,
    ),
]


@pytest.mark.parametrize(
    ("sql", "method", "params", "body"), EXECS, ids=[e[1] + str(i) for i, e in enumerate(EXECS)]
)
def test_exec_gives_method_params_as_python_values_and_the_json_body(sql, method, params, body):
    statement = parse_one(sql)
    assert isinstance(statement, st.Exec)
    assert (statement.method, statement.params, statement.body) == (method, params, body)
    assert all(type(v) is type(params[k]) for k, v in statement.params.items())


# (sql, statement class, mutation kind or None, the SQL sqlglot gives back)
STANDARD = [
    (
        "SELECT name, state FROM google.aiplatform.hyperparameter_tuning_jobs WHERE projectsId = 'p' "
        "AND locationsId = 'us-central1'",
        st.Query,
        None,
        None,
    ),
    (
        "select data__displayName, hyperparameterTuningJobsId from google.ml.jobs",
        st.Query,
        None,
        "SELECT data__displayName, hyperparameterTuningJobsId FROM google.ml.jobs",
    ),
    (
        "WITH j AS (SELECT * FROM google.ml.jobs WHERE projectsId = 'p') SELECT COUNT(*) FROM j",
        st.Query,
        None,
        None,
    ),
    ("SELECT 1 UNION ALL SELECT 2", st.Query, None, None),
    ("VALUES (1, 'a'), (2, 'b')", st.Query, None, None),
    ("(SELECT 1) UNION (SELECT 2)", st.Query, None, None),
    # SQLite's JSON functions, as StackQL users write them.
    (
        "SELECT json_extract(labels, '$.team') AS team, json_array_length(members) FROM google.ml.jobs, "
        "json_each(labels)",
        st.Query,
        None,
        "SELECT labels -> '$.team' AS team, JSON_ARRAY_LENGTH(members) FROM google.ml.jobs, JSON_EACH(labels)",
    ),
    (
        "INSERT INTO google.ml.jobs (projectsId, data__jobId, data__trainingInput) SELECT 'p', 'train_1', "
        '\'{"scaleTier": "BASIC"}\' RETURNING jobId, state',
        st.Mutation,
        "INSERT",
        None,
    ),
    ("INSERT INTO google.ml.jobs (projectsId, data__jobId) VALUES ('p', 'j')", st.Mutation, "INSERT", None),
    (
        "UPDATE google.ml.jobs SET data__labels = '{\"team\": \"a\"}' WHERE projectsId = 'p' AND jobsId = 'j' "
        "AND updateMask = 'labels' RETURNING labels",
        st.Mutation,
        "UPDATE",
        None,
    ),
    (
        "DELETE FROM google.aiplatform.hyperparameter_tuning_jobs WHERE projectsId = 'p' AND "
        "hyperparameterTuningJobsId = '123' RETURNING name",
        st.Mutation,
        "DELETE",
        None,
    ),
    (
        "REPLACE google.ml.jobs_iam_policies SET data__policy = '{\"bindings\": []}' WHERE projectsId = 'p' "
        "AND jobsId = 'j'",
        st.Mutation,
        "REPLACE",
        "UPDATE google.ml.jobs_iam_policies SET data__policy = '{\"bindings\": []}' WHERE projectsId = 'p' "
        "AND jobsId = 'j'",
    ),
    (
        "WITH v AS (SELECT 'p' AS p) INSERT INTO google.ml.jobs (projectsId) SELECT p FROM v",
        st.Mutation,
        "INSERT",
        None,
    ),
]


@pytest.mark.parametrize(("sql", "cls", "kind", "expected"), STANDARD, ids=[s[0][:40] for s in STANDARD])
def test_standard_sql_is_a_sqlglot_tree_that_round_trips(sql, cls, kind, expected):
    statement = parse_one(sql)
    assert type(statement) is cls
    assert getattr(statement, "kind", None) == kind
    assert statement.expression.sql(dialect="skyql") == (expected or sql)


def test_replace_is_an_update_tree():
    statement = parse_one("REPLACE google.ml.jobs_iam_policies SET data__policy = '{}' WHERE jobsId = 'j'")
    assert isinstance(statement.expression, exp.Update)


def test_three_part_names_are_catalog_db_and_table_and_identifiers_keep_their_case():
    statement = parse_one(
        "SELECT data__displayName, projectsId FROM google.ml.jobs WHERE hyperparameterTuningJobsId = 'x'"
    )
    table = statement.expression.find(exp.Table)
    assert (table.catalog, table.db, table.name) == ("google", "ml", "jobs")
    columns = [c.name for c in statement.expression.find_all(exp.Column)]
    assert columns == ["data__displayName", "projectsId", "hyperparameterTuningJobsId"]


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("SELECT * FROM google.sheets.values", ("google", "sheets", "values")),
        ("DELETE FROM google.apigee.create WHERE a = 1", ("google", "apigee", "create")),
        ("INSERT INTO google.sheets.values (spreadsheetId) VALUES ('s')", ("google", "sheets", "values")),
        (
            "UPDATE google.sheets.values SET data__x = 1 WHERE spreadsheetId = 's'",
            ("google", "sheets", "values"),
        ),
    ],
)
def test_resource_names_that_are_sql_keywords_still_parse_as_three_part_tables(sql, name):
    table = parse_one(sql).expression.find(exp.Table)
    assert (table.catalog, table.db, table.name) == name


def test_every_resource_and_method_in_the_shipped_registry_parses():
    provider = Registry().provider("google")
    resources, methods = [], []
    for name in provider.service_index:
        for resource in provider.service(name).resources.values():
            resources.append(resource.id)
            methods.extend(f"{resource.id}.{m}" for m in resource.methods)
    assert len(resources) > 1000
    queries = parse(";\n".join(f"SELECT * FROM {r}" for r in resources))
    assert [
        ".".join(q.expression.find(exp.Table).parts[i].name for i in range(3)) for q in queries
    ] == resources
    execs = parse(";\n".join(f"EXEC {m} @a = 1" for m in methods))
    assert [e.method for e in execs] == methods


HINTED = [
    ("EXEC /*+ AWAIT */ google.ml.jobs.cancel @projectsId = 'p', @jobsId = 'j'", {"AWAIT"}),
    ("EXEC /*+ SHOWRESULTS */ google.ml.jobs.cancel @projectsId = 'p', @jobsId = 'j'", {"SHOWRESULTS"}),
    ("INSERT /*+ AWAIT */ INTO google.ml.jobs (projectsId) SELECT 'p'", {"AWAIT"}),
    ("DELETE /*+ await */ FROM google.ml.jobs WHERE projectsId = 'p'", {"AWAIT"}),
    (
        "UPDATE /*+ AWAIT, SHOWRESULTS */ google.ml.jobs SET data__labels = '{}' WHERE projectsId = 'p'",
        {"AWAIT", "SHOWRESULTS"},
    ),
    (
        "REPLACE /*+AWAIT*/ /*+ ShowResults */ google.ml.jobs_iam_policies SET data__policy = '{}'",
        {"AWAIT", "SHOWRESULTS"},
    ),
    ("SHOW INSERT /*+ REQUIRED */ INTO google.ml.jobs", {"REQUIRED"}),
    ("SELECT 1 /* an ordinary comment */", set()),
    ("SELECT '/*+ AWAIT */' -- /*+ SHOWRESULTS */ in a line comment", set()),
]


@pytest.mark.parametrize(("sql", "hints"), HINTED, ids=[h[0][:40] for h in HINTED])
def test_optimizer_hint_comments_fill_hints(sql, hints):
    assert parse_one(sql).hints == frozenset(hints)


def test_show_insert_required_hint_asks_for_required_fields_only():
    assert parse_one("SHOW INSERT /*+ REQUIRED */ INTO google.ml.jobs").required_only is True
    assert parse_one("SHOW INSERT INTO google.ml.jobs").required_only is False


def test_hints_stay_out_of_the_sql_generated_from_the_tree():
    statement = parse_one("INSERT /*+ AWAIT */ INTO google.ml.jobs (projectsId) SELECT 'p' /* keep me */")
    assert "AWAIT" not in statement.expression.sql(dialect="skyql")


# (sql, fragments the one-line message must contain)
ERRORS = [
    ("SHOW RESOURCES IN google..jobs", ["<provider>.<service>", "e.g. google.aiplatform", "'google..jobs'"]),
    ("SHOW METHODS IN google.ml", ["<provider>.<service>.<resource>", "(3 parts)", "got 'google.ml'"]),
    ("SHOW SERVICES IN google.ml", ["<provider> (1 part)"]),
    ("SHOW SERVICES", ["SHOW SERVICES needs IN <provider>, e.g. SHOW SERVICES IN google"]),
    (
        "SHOW RESOURCES",
        ["SHOW RESOURCES needs IN <provider>.<service>, e.g. SHOW RESOURCES IN google.aiplatform"],
    ),
    ("SHOW SERVICES google", ["needs IN before the name", "line 1, column 15"]),
    ("SHOW TABLES", ["SHOW TABLES is not supported", "SHOW SERVICES IN google"]),
    ("SHOW SERVICES IN google LIKE ai", ["quoted pattern", "LIKE '%jobs%'"]),
    ("SHOW SERVICES IN google ORDER BY name", ["unexpected 'ORDER BY'", "LIKE 'pattern' or WHERE"]),
    ("DESCRIBE google.ml", ["DESCRIBE needs a name of the form <provider>.<service>.<resource>"]),
    ("DESCRIBE METHOD google.ml.jobs", ["<provider>.<service>.<resource>.<method>", "google.ml.jobs.cancel"]),
    ("SHOW INSERT google.ml.jobs", ["SHOW INSERT needs INTO"]),
    ("REGISTRY PUSH google", ["REGISTRY needs LIST or PULL"]),
    ("REGISTRY PULL google v1 v2", ["unexpected 'v2'", "one version"]),
    ("EXEC google.ml.jobs @projectsId = 'p'", ["EXEC needs a name of the form", "(4 parts)"]),
    ("EXEC google.ml.jobs.cancel projectsId = 'p'", ["@name = value", "column 28"]),
    ("EXEC google.ml.jobs.cancel @projectsId = p", ["@projectsId needs a value", "quoted string"]),
    ("EXEC google.ml.jobs.cancel @projectsId", ["@projectsId needs '='"]),
    ("EXEC google.ml.jobs.cancel @a = 'x', @a = 'y'", ["@a is given twice"]),
    ("EXEC google.ml.jobs.cancel @@body = '{}'", ["@@json = '{...}'"]),
    ("EXEC google.ml.jobs.cancel @@json = 1", ["quoted JSON string"]),
    ("EXEC google.ml.jobs.cancel @projectsId = ?", ["not as ? parameters", "@projectsId a literal value"]),
    ("SELECT /*+ AWAITT */ 1", ["unknown hint AWAITT", "did you mean AWAIT", "/*+ SHOWRESULTS */"]),
    ("REPLACE INTO t VALUES (1)", ["REPLACE takes the UPDATE shape"]),
    ("SELECT FROM WHERE", ["syntax error at line 1, column 13 near 'WHERE'", "Expected table name"]),
    ("SELECT name FROM google.ml.jobs WHERE (a = 1", ["syntax error at line 1", "Expecting )"]),
    ("SELECT 1 +", ["syntax error at line 1, column 10 near '+'", "incomplete"]),
    ("SELECT 'abc", ["unterminated string starting at line 1, column 8", "closing '"]),
    ("SELECT 1;\nSELECT 2", ["expected one statement but found 2", "line 2"]),
    ("", ["empty statement"]),
    ("  -- only a comment\n/* and another */ ;", ["empty statement"]),
]


@pytest.mark.parametrize(("sql", "fragments"), ERRORS, ids=[e[0][:40] or "empty" for e in ERRORS])
def test_bad_statements_raise_one_line_sql_errors_that_say_what_to_do(sql, fragments):
    with pytest.raises(SqlError) as caught:
        parse_one(sql)
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE x",
        "CREATE TABLE x (a INT)",
        "ATTACH 'x.db'",
        "PRAGMA version",
        "COPY t TO 'x.csv'",
        "SET x = 1",
        "INSTALL httpfs",
        "LOAD httpfs",
        "EXPLAIN SELECT 1",
        "TRUNCATE x",
        "CALL f()",
    ],
)
def test_statements_skyql_does_not_run_name_what_it_does_run(sql):
    with pytest.raises(SqlError, match=r"^\w+ statements are not supported: skyql runs SELECT .*EXEC, SHOW"):
        parse_one(sql)


def test_parse_reads_a_script_and_errors_point_at_the_script_line():
    statements = parse("SHOW PROVIDERS;\n-- next\nDESCRIBE google.ml.jobs;\n\nSELECT 1")
    assert [type(s) for s in statements] == [st.ShowProviders, st.Describe, st.Query]
    assert [s.line for s in statements] == [1, 3, 5]
    with pytest.raises(SqlError, match="line 3, column 13 near 'WHERE'"):
        parse("SELECT 1;\n\nSELECT FROM WHERE;")


def test_statement_text_is_the_statement_as_written():
    statement = parse_one("  -- list jobs\n  select Name from google.ml.jobs ;  ")
    assert statement.text == "select Name from google.ml.jobs"
    assert statement.line == 2


def test_the_dialect_is_registered_with_sqlglot_and_reads_backtick_names():
    tree = sqlglot.parse_one("SELECT `displayName` FROM `google`.`ml`.`jobs`", read="skyql")
    assert tree.find(exp.Table).name == "jobs"
    assert tree.find(exp.Column).name == "displayName"


def test_importing_the_sql_package_and_parsing_metadata_loads_no_duckdb_httpx_or_jinja():
    code = (
        "import sys, skyql.sql\n"
        "skyql.sql.parse_one('SHOW SERVICES IN google WHERE name = \\'ml\\'')\n"
        "skyql.sql.render_template('SELECT 1', {})\n"
        "loaded = [m for m in ('duckdb', 'httpx', 'jinja2') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
