"""The skyql:// SQLAlchemy dialect: URLs, statements, pandas.read_sql and reflection, with no network."""

from __future__ import annotations

import json
import urllib.parse
import warnings

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import skyql.dbapi as dbapi
from skyql.dbapi.connection import OPTION_NAMES
from skyql.dbapi.sqlalchemy import URL_OPTIONS, SkyqlDialect, connect_args
from skyql.registry import Registry


@pytest.fixture
def engine():
    eng = sa.create_engine("skyql://")
    yield eng
    eng.dispose()


def test_skyql_urls_load_the_dialect_through_its_entry_point_without_deprecation_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eng = sa.create_engine("skyql://")
    assert isinstance(eng.dialect, SkyqlDialect)
    assert eng.dialect.dbapi is dbapi
    assert SkyqlDialect.import_dbapi() is dbapi
    assert SkyqlDialect.dbapi() is dbapi
    assert eng.dialect.paramstyle == "qmark"
    assert eng.dialect.supports_statement_cache is True


def test_url_options_become_connect_keywords():
    auth = {"google": {"type": "service_account", "credentialsfilepath": "/keys/k.json"}}
    url = make_url(
        "skyql://?endpoint=http://127.0.0.1:8089&auth="
        + urllib.parse.quote(json.dumps(auth))
        + "&concurrency=4&timeout=2.5&safe=true&pushdown=0&page_size=50"
    )
    assert connect_args(url) == {
        "endpoints": {"google": "http://127.0.0.1:8089"},
        "auth": json.dumps(auth),
        "concurrency": 4,
        "timeout": 2.5,
        "safe": True,
        "pushdown": False,
        "page_size": 50,
    }


def test_every_connect_keyword_can_be_set_from_a_url():
    assert {"auth", "endpoint", "concurrency", "safe", "emulator", *OPTION_NAMES} == set(URL_OPTIONS)


def test_url_endpoint_may_name_its_provider():
    assert connect_args(make_url("skyql://?endpoint=google=http://localhost:9000")) == {
        "endpoints": {"google": "http://localhost:9000"}
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("skyql://127.0.0.1:8089", "no host or database"),
        ("skyql://?safe=maybe", "true or false"),
        ("skyql://?concurrency=many", "not a number"),
    ],
)
def test_bad_urls_are_argument_errors_that_say_what_to_write(url, message):
    with pytest.raises(sa.exc.ArgumentError, match=message):
        sa.create_engine(url)


def test_engine_sessions_get_the_url_settings():
    auth = {"google": {"type": "service_account", "credentialsfilepath": "/keys/k.json"}}
    eng = sa.create_engine(
        "skyql://?endpoint=http://127.0.0.1:8089/&concurrency=3&auth=" + urllib.parse.quote(json.dumps(auth))
    )
    raw = eng.raw_connection()
    try:
        options = raw.dbapi_connection.session.options
        assert options.endpoints == {"google": "http://127.0.0.1:8089"}
        assert options.auth == auth
        assert options.concurrency == 3
    finally:
        raw.close()
        eng.dispose()


def test_unknown_url_options_fail_on_connect_with_a_suggestion():
    eng = sa.create_engine("skyql://?retrys=2")
    with pytest.raises(sa.exc.InterfaceError, match="did you mean retries"):
        eng.connect()


def test_metadata_statements_and_bound_parameters_run_through_an_engine(engine):
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SHOW SERVICES IN google LIKE 'ml%'").fetchall()
        assert rows == [("ml:v1", "ml", "AI Platform Training & Prediction API")]
        assert conn.execute(sa.text("SELECT :a AS a, :b AS b"), {"a": "x", "b": 2}).one() == ("x", 2)


def test_connections_return_to_the_pool_and_transactions_commit_without_rollback_errors(engine):
    for _ in range(3):
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1 AS a").fetchall()
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT 2 AS a").scalar() == 2
    with engine.connect() as conn:
        assert conn.get_isolation_level() == "AUTOCOMMIT"
        assert engine.dialect.do_ping(conn.connection.dbapi_connection)


def test_skyql_errors_surface_as_sqlalchemy_errors_wrapping_the_dbapi_error(engine):
    with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as info:
        conn.exec_driver_sql("DESCRIBE google.ml.jobz")
    assert isinstance(info.value.orig, dbapi.ProgrammingError)
    assert "did you mean google.ml.jobs" in str(info.value)


def test_pandas_read_sql_through_the_engine(engine):
    df = pd.read_sql("DESCRIBE google.ml.jobs", engine)
    expected = [(c.name, c.type) for c in Registry().lookup("google.ml.jobs").columns()]
    assert list(df.columns) == ["name", "type"]
    assert [tuple(r) for r in df.itertuples(index=False)] == expected


def test_pandas_read_sql_passes_qmark_parameters(engine):
    df = pd.read_sql("SELECT ? AS project, ? AS n", engine, params=("demo-project", 3))
    assert df.to_dict("records") == [{"project": "demo-project", "n": 3}]


# -- reflection: services are schemas, resources are tables ----------------------------------------


def test_services_are_schemas_and_resources_are_tables(engine):
    insp = sa.inspect(engine)
    schemas = insp.get_schema_names()
    assert "google.ml" in schemas and "google.aiplatform" in schemas
    assert len(schemas) == len(Registry().provider("google").index["services"])
    assert insp.get_table_names(schema="google.ml") == sorted(Registry().service("google", "ml").resources)
    assert insp.get_table_names() == []
    assert insp.get_view_names(schema="google.ml") == []


def test_has_table_answers_from_the_registry(engine):
    insp = sa.inspect(engine)
    assert insp.has_table("jobs", schema="google.ml")
    assert not insp.has_table("jobz", schema="google.ml")
    assert not insp.has_table("jobs", schema="google.nosuchservice")
    assert not insp.has_table("SELECT 1")


def test_unknown_schema_says_which_services_exist(engine):
    with pytest.raises(dbapi.ProgrammingError, match="unknown service google.mll"):
        sa.inspect(engine).get_table_names(schema="google.mll")


def test_columns_are_the_resource_fields_then_its_parameters_with_types(engine):
    columns = sa.inspect(engine).get_columns("jobs", schema="google.ml")
    by_name = {c["name"]: c for c in columns}
    fields = [c.name for c in Registry().lookup("google.ml.jobs").columns()]
    assert [c["name"] for c in columns] == [*fields, "projectsId", "jobsId"]
    assert isinstance(by_name["jobId"]["type"], sa.String)
    assert isinstance(by_name["jobPosition"]["type"], sa.BigInteger)
    assert isinstance(by_name["labels"]["type"], sa.JSON)
    assert isinstance(by_name["createTime"]["type"], sa.DateTime) and by_name["createTime"]["type"].timezone
    assert by_name["projectsId"]["comment"] == "parameter: set it in WHERE"
    assert all(c["nullable"] for c in columns)


def test_a_table_comment_is_what_a_row_of_the_resource_is(engine):
    # The discovery description of the Job schema, as `SHOW RESOURCES IN google.ml EXTENDED` shows it.
    comment = sa.inspect(engine).get_table_comment("jobs", schema="google.ml")
    assert comment == {"text": "Represents a training or prediction job."}


def test_reflecting_an_unknown_table_raises_no_such_table(engine):
    with pytest.raises(sa.exc.NoSuchTableError):
        sa.Table("jobz", sa.MetaData(), schema="google.ml", autoload_with=engine)


def test_a_reflected_table_compiles_to_skyql_names_and_plans_the_right_request():
    eng = sa.create_engine("skyql://?dryrun=true")
    jobs = sa.Table("jobs", sa.MetaData(), schema="google.ml", autoload_with=eng)
    query = sa.select(jobs.c.jobId, jobs.c.state).where(jobs.c.projectsId == "demo-project")
    assert "FROM google.ml.jobs" in str(query.compile(eng))
    with eng.connect() as conn:
        rows = conn.execute(query).fetchall()
    eng.dispose()
    assert [(r.resource, r.method) for r in rows] == [("google.ml.jobs", "projects_jobs_list")]
    assert rows[0].request.startswith("GET https://ml.googleapis.com/v1/projects/demo-project/jobs")
