"""PEP 249 conformance of skyql.dbapi, on statements that need no network (metadata and local SELECTs)."""

from __future__ import annotations

import asyncio
import datetime
import sys
import threading
import time

import pytest

import skyql
import skyql.dbapi as dbapi
from skyql.dbapi.exceptions import translate
from skyql.engine.types import duckdb_type
from skyql.errors import ApiError, ConfigError, NotFoundError, ParameterError, SkyqlError, SqlError
from skyql.registry import Registry

SERVICES_LIKE_CLOUD = "SHOW SERVICES IN google LIKE 'cloud%'"


@pytest.fixture
def conn():
    connection = dbapi.connect()
    yield connection
    connection.close()


@pytest.fixture
def cur(conn):
    return conn.cursor()


@pytest.fixture
def services():
    """The rows SHOW SERVICES IN google LIKE 'cloud%' must return, straight from the registry."""
    index = Registry().provider("google").index["services"]
    rows = [(s["id"], s["name"], s["title"]) for s in index if s["name"].lower().startswith("cloud")]
    assert len(rows) > 5  # enough rows for the fetchmany sizes below
    return rows


# -- module globals ---------------------------------------------------------------------------------


def test_module_declares_api_level_threadsafety_and_qmark_paramstyle():
    assert dbapi.apilevel == "2.0"
    assert dbapi.threadsafety == 2
    assert dbapi.paramstyle == "qmark"


def test_skyql_connect_returns_a_dbapi_connection():
    with skyql.connect() as connection:
        assert isinstance(connection, dbapi.Connection)


def test_every_name_pep_249_defines_is_exported():
    names = {
        "connect",
        "apilevel",
        "threadsafety",
        "paramstyle",
        "Warning",
        "Error",
        "InterfaceError",
        "DatabaseError",
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
        "Date",
        "Time",
        "Timestamp",
        "DateFromTicks",
        "TimeFromTicks",
        "TimestampFromTicks",
        "Binary",
        "STRING",
        "BINARY",
        "NUMBER",
        "DATETIME",
        "ROWID",
    }
    assert names <= set(dbapi.__all__)
    assert all(hasattr(dbapi, name) for name in names)


# -- exceptions -------------------------------------------------------------------------------------

HIERARCHY = [
    (dbapi.Warning, Exception),
    (dbapi.Error, Exception),
    (dbapi.InterfaceError, dbapi.Error),
    (dbapi.DatabaseError, dbapi.Error),
    (dbapi.DataError, dbapi.DatabaseError),
    (dbapi.OperationalError, dbapi.DatabaseError),
    (dbapi.IntegrityError, dbapi.DatabaseError),
    (dbapi.InternalError, dbapi.DatabaseError),
    (dbapi.ProgrammingError, dbapi.DatabaseError),
    (dbapi.NotSupportedError, dbapi.DatabaseError),
]


@pytest.mark.parametrize(("child", "parent"), HIERARCHY, ids=[c.__name__ for c, _ in HIERARCHY])
def test_exception_hierarchy_is_the_one_pep_249_draws(child, parent):
    assert issubclass(child, parent)


def test_dbapi_errors_are_also_skyql_errors_but_warnings_are_not():
    assert issubclass(dbapi.Error, SkyqlError)
    assert not issubclass(dbapi.Warning, dbapi.Error)
    assert not issubclass(dbapi.Warning, SkyqlError)


def test_connection_exposes_the_exception_classes(conn):
    for name in (
        "Warning",
        "Error",
        "InterfaceError",
        "DatabaseError",
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        assert getattr(conn, name) is getattr(dbapi, name)


def test_unknown_resource_is_a_programming_error_keeping_the_message_and_cause(cur):
    with pytest.raises(dbapi.ProgrammingError) as info:
        cur.execute("DESCRIBE google.ml.jobz")
    assert isinstance(info.value.__cause__, NotFoundError)
    assert str(info.value) == str(info.value.__cause__)
    assert "did you mean google.ml.jobs" in str(info.value)


def test_bad_sql_is_a_programming_error(cur):
    with pytest.raises(dbapi.ProgrammingError) as info:
        cur.execute("SELEC 1")
    assert isinstance(info.value.__cause__, SqlError)


def test_missing_required_parameter_is_a_programming_error_caught_before_any_request(cur):
    with pytest.raises(dbapi.ProgrammingError) as info:
        cur.execute("SELECT jobId FROM google.ml.jobs")
    assert isinstance(info.value.__cause__, ParameterError)
    assert "projectsId" in str(info.value)


def test_bad_connect_settings_are_interface_errors():
    with pytest.raises(dbapi.InterfaceError) as info:
        dbapi.connect(endpoints={"google": "127.0.0.1:8089"})
    assert isinstance(info.value.__cause__, ConfigError)
    with pytest.raises(dbapi.InterfaceError, match="not valid JSON"):
        dbapi.connect(auth="{not json")
    with pytest.raises(dbapi.InterfaceError, match="did you mean retries"):
        dbapi.connect(retrys=3)
    with pytest.raises(dbapi.InterfaceError, match="concurrency"):
        dbapi.connect(concurrency=0)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ApiError("quota exceeded", http_status=429, status="RESOURCE_EXHAUSTED"), dbapi.OperationalError),
        (ApiError("job not found", http_status=404, status="NOT_FOUND"), dbapi.OperationalError),
        (ApiError("connection refused"), dbapi.OperationalError),
        (ApiError("job j1 already exists", http_status=409, status="ALREADY_EXISTS"), dbapi.IntegrityError),
        (ApiError("etag mismatch", http_status=409, status="ABORTED"), dbapi.OperationalError),
        (KeyError("oops"), dbapi.InternalError),
    ],
    ids=["429", "404", "network", "already-exists", "aborted", "bug"],
)
def test_error_mapping_picks_the_pep_249_class(error, expected):
    mapped = translate(error)
    assert type(mapped) is expected
    assert mapped.__cause__ is error


def test_api_errors_keep_their_message_and_http_status_on_the_cause():
    mapped = translate(ApiError("quota exceeded; retry later", http_status=429, status="RESOURCE_EXHAUSTED"))
    assert str(mapped) == "quota exceeded; retry later"
    assert mapped.__cause__.http_status == 429


def test_duckdb_errors_escaping_the_engine_keep_their_pep_249_class():
    import duckdb

    assert type(translate(duckdb.ConversionException("bad cast"))) is dbapi.DataError
    assert type(translate(duckdb.CatalogException("no table"))) is dbapi.ProgrammingError


# -- connection -------------------------------------------------------------------------------------


def test_commit_is_a_no_op_and_rollback_is_not_supported(conn):
    assert conn.commit() is None
    with pytest.raises(dbapi.NotSupportedError, match="rollback"):
        conn.rollback()
    assert conn.autocommit is True
    with pytest.raises(dbapi.NotSupportedError):
        conn.autocommit = False


def test_connection_context_manager_closes_it():
    with dbapi.connect() as connection:
        connection.cursor().execute(SERVICES_LIKE_CLOUD)
    assert connection.closed
    connection.close()  # closing twice is harmless


@pytest.mark.parametrize(
    "use",
    [
        lambda c: c.cursor(),
        lambda c: c.commit(),
        lambda c: c.rollback(),
        lambda c: c.execute(SERVICES_LIKE_CLOUD),
        lambda c: c.session,
        lambda c: c.__enter__(),
    ],
    ids=["cursor", "commit", "rollback", "execute", "session", "enter"],
)
def test_a_closed_connection_raises_interface_error(use):
    connection = dbapi.connect()
    connection.close()
    with pytest.raises(dbapi.InterfaceError, match="connection is closed"):
        use(connection)


def test_connection_execute_is_a_shortcut_for_a_new_cursor(conn, services):
    cursor = conn.execute(SERVICES_LIKE_CLOUD)
    assert cursor.connection is conn
    assert cursor.fetchall() == services


def test_threads_may_share_a_connection(conn):
    results: dict[int, object] = {}

    def work(i: int) -> None:
        with conn.cursor() as cursor:
            cursor.execute("SELECT ? AS n", [i])
            results[i] = cursor.fetchall()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: [(i,)] for i in range(6)}


def test_statements_run_inside_a_running_event_loop_as_in_jupyter(conn, services):
    async def cell():
        cursor = conn.cursor()
        cursor.execute(SERVICES_LIKE_CLOUD)
        return cursor.fetchall()

    assert asyncio.run(cell()) == services


# -- cursor attributes ------------------------------------------------------------------------------


def test_a_new_cursor_has_no_description_rowcount_minus_one_and_arraysize_one(cur, conn):
    assert cur.description is None
    assert cur.rowcount == -1
    assert cur.arraysize == 1
    assert cur.connection is conn
    assert cur.rownumber is None
    assert cur.lastrowid is None
    assert cur.messages == []


def test_description_has_a_7_tuple_per_column_with_type_codes(cur):
    cur.execute(SERVICES_LIKE_CLOUD)
    assert [d[0] for d in cur.description] == ["id", "name", "title"]
    for column in cur.description:
        assert len(column) == 7
        assert column[1] == dbapi.STRING
        assert column[2:6] == (None, None, None, None)
        assert column[6] is True


def test_description_type_codes_compare_equal_to_their_type_objects(cur):
    cur.execute(
        "SELECT 1::BIGINT AS n, 2.5::DOUBLE AS x, 'a' AS s, '{}'::JSON AS j, true AS b, "
        "TIMESTAMPTZ '2024-01-02 03:04:05+00' AS t, DATE '2024-01-02' AS d, '\\x01'::BLOB AS raw"
    )
    codes = {d[0]: d[1] for d in cur.description}
    assert codes["n"] == dbapi.NUMBER and codes["x"] == dbapi.NUMBER and codes["b"] == dbapi.NUMBER
    assert codes["s"] == dbapi.STRING and codes["j"] == dbapi.STRING
    assert codes["t"] == dbapi.DATETIME and codes["d"] == dbapi.DATETIME
    assert codes["raw"] == dbapi.BINARY
    assert codes["n"] != dbapi.STRING and codes["s"] != dbapi.NUMBER


def test_rowcount_is_the_number_of_rows_returned(cur, services):
    cur.execute(SERVICES_LIKE_CLOUD)
    assert cur.rowcount == len(services) > 1


def test_execute_returns_the_cursor_and_a_new_execute_replaces_the_rows(cur):
    assert cur.execute("SELECT 1 AS a") is cur
    cur.execute("SELECT 2 AS b, 3 AS c")
    assert [d[0] for d in cur.description] == ["b", "c"]
    assert cur.fetchall() == [(2, 3)]


def test_qmark_parameters_are_bound_in_order(cur):
    cur.execute("SELECT ? AS a, ? AS b", ["x", 7])
    assert cur.fetchall() == [("x", 7)]
    cur.execute("SELECT ? AS a", ("tuple",))
    assert cur.fetchone() == ("tuple",)


def test_named_parameters_are_not_supported_and_bad_parameter_shapes_are_programming_errors(cur):
    with pytest.raises(dbapi.NotSupportedError, match="qmark"):
        cur.execute("SELECT ? AS a", {"a": 1})
    with pytest.raises(dbapi.ProgrammingError, match="list or tuple"):
        cur.execute("SELECT ? AS a", "abc")
    with pytest.raises(dbapi.ProgrammingError, match="string of SQL"):
        cur.execute(42)


# -- fetching ---------------------------------------------------------------------------------------


def test_fetchone_walks_the_rows_then_returns_none(cur, services):
    cur.execute(SERVICES_LIKE_CLOUD)
    got = [cur.fetchone() for _ in services]
    assert got == services
    assert cur.fetchone() is None
    assert cur.fetchone() is None


def test_fetchmany_defaults_to_arraysize_and_honours_sizes_until_exhausted(cur, services):
    cur.execute(SERVICES_LIKE_CLOUD)
    assert cur.fetchmany() == services[:1]
    cur.arraysize = 2
    assert cur.fetchmany() == services[1:3]
    assert cur.fetchmany(0) == []
    assert cur.rownumber == 3
    assert cur.fetchmany(1000) == services[3:]
    assert cur.fetchmany() == []
    assert cur.fetchmany(5) == []


def test_fetchmany_rejects_a_negative_size(cur):
    cur.execute("SELECT 1 AS a")
    with pytest.raises(dbapi.ProgrammingError, match="size"):
        cur.fetchmany(-1)


def test_fetchall_returns_what_is_left_then_nothing(cur, services):
    cur.execute(SERVICES_LIKE_CLOUD)
    cur.fetchone()
    assert cur.fetchall() == services[1:]
    assert cur.fetchall() == []


def test_a_cursor_iterates_over_its_remaining_rows(cur, services):
    cur.execute(SERVICES_LIKE_CLOUD)
    first = cur.next()
    assert [first, *cur] == services
    with pytest.raises(StopIteration):
        cur.next()


@pytest.mark.parametrize(
    "fetch",
    [
        lambda c: c.fetchone(),
        lambda c: c.fetchmany(),
        lambda c: c.fetchall(),
        lambda c: next(c),
    ],
    ids=["fetchone", "fetchmany", "fetchall", "next"],
)
def test_fetching_before_execute_is_a_programming_error(cur, fetch):
    with pytest.raises(dbapi.ProgrammingError, match="execute"):
        fetch(cur)


def test_executemany_runs_once_per_parameter_set_and_totals_rowcount(cur):
    cur.execute("SELECT 1 AS a")
    cur.executemany("DESCRIBE google.ml.jobs", [[], []])
    single = len(Registry().lookup("google.ml.jobs").columns())
    assert cur.rowcount == 2 * single
    assert cur.description is None
    with pytest.raises(dbapi.ProgrammingError, match="no rows to fetch"):
        cur.fetchall()
    cur.executemany("SELECT ? AS a", [])
    assert cur.rowcount == 0


def test_executemany_stops_at_the_first_failing_parameter_set(cur):
    with pytest.raises(dbapi.DatabaseError, match="x"):
        # (CAST('x' AS INTEGER) is 0, as in SQLite: a date that is no date fails.)
        cur.executemany("SELECT CAST(? AS DATE) AS a", [["2024-01-01"], ["x"], ["2024-01-02"]])
    assert cur.rowcount == 1


def test_setinputsizes_and_setoutputsize_are_accepted(cur):
    assert cur.setinputsizes([10, None]) is None
    assert cur.setoutputsize(100) is None
    assert cur.setoutputsize(100, 0) is None


@pytest.mark.parametrize(
    "use",
    [
        lambda c: c.execute("SELECT 1 AS a"),
        lambda c: c.executemany("SELECT ? AS a", [[1]]),
        lambda c: c.fetchone(),
        lambda c: c.fetchmany(),
        lambda c: c.fetchall(),
        lambda c: c.setinputsizes([]),
        lambda c: c.setoutputsize(1),
        lambda c: c.__enter__(),
        lambda c: next(c),
    ],
    ids=[
        "execute",
        "executemany",
        "fetchone",
        "fetchmany",
        "fetchall",
        "setinputsizes",
        "setoutputsize",
        "enter",
        "next",
    ],
)
def test_a_closed_cursor_raises_interface_error(conn, use):
    cursor = conn.cursor()
    cursor.execute("SELECT 1 AS a")
    cursor.close()
    with pytest.raises(dbapi.InterfaceError, match="cursor is closed"):
        use(cursor)
    cursor.close()  # closing twice is harmless


def test_closing_the_connection_makes_its_cursors_unusable():
    connection = dbapi.connect()
    cursor = connection.cursor()
    cursor.execute("SELECT 1 AS a")
    connection.close()
    assert cursor.closed
    with pytest.raises(dbapi.InterfaceError, match="connection is closed"):
        cursor.fetchall()


def test_cursor_context_manager_closes_it(conn):
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 AS a")
    assert cursor.closed


# -- type objects and constructors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "type_object"),
    [
        ("VARCHAR", dbapi.STRING),
        ("JSON", dbapi.STRING),
        ("VARCHAR[]", dbapi.STRING),
        ("STRUCT(a INTEGER)", dbapi.STRING),
        ("BIGINT", dbapi.NUMBER),
        ("UBIGINT", dbapi.NUMBER),
        ("DOUBLE", dbapi.NUMBER),
        ("DECIMAL(18,3)", dbapi.NUMBER),
        ("BOOLEAN", dbapi.NUMBER),
        ("TIMESTAMP WITH TIME ZONE", dbapi.DATETIME),
        ("TIMESTAMPTZ", dbapi.DATETIME),
        ("DATE", dbapi.DATETIME),
        ("INTERVAL", dbapi.DATETIME),
        ("BLOB", dbapi.BINARY),
        ("bigint", dbapi.NUMBER),
    ],
)
def test_each_duckdb_type_name_equals_exactly_one_type_object(type_name, type_object):
    matches = [
        t for t in (dbapi.STRING, dbapi.BINARY, dbapi.NUMBER, dbapi.DATETIME, dbapi.ROWID) if type_name == t
    ]
    assert matches == [type_object]


def test_every_column_type_the_engine_makes_for_a_resource_has_a_type_object():
    registry = Registry()
    for service in ("ml", "aiplatform", "compute"):
        for resource in registry.service("google", service).resources.values():
            for column in resource.columns():
                name = duckdb_type(column)
                assert name in (dbapi.STRING, dbapi.NUMBER, dbapi.DATETIME), (resource.id, column.name, name)


def test_type_objects_are_hashable_and_equal_only_to_themselves():
    assert len({dbapi.STRING, dbapi.NUMBER, dbapi.STRING}) == 2
    assert dbapi.STRING != dbapi.NUMBER
    assert dbapi.ROWID != "VARCHAR"
    assert "STRING" in repr(dbapi.STRING)


def test_date_time_and_binary_constructors():
    assert dbapi.Date(2024, 1, 2) == datetime.date(2024, 1, 2)
    assert dbapi.Time(3, 4, 5) == datetime.time(3, 4, 5)
    assert dbapi.Timestamp(2024, 1, 2, 3, 4, 5) == datetime.datetime(2024, 1, 2, 3, 4, 5)
    assert dbapi.Binary(b"\x00\x01") == b"\x00\x01"
    ticks = 1_700_000_000.0
    local = time.localtime(ticks)
    assert dbapi.DateFromTicks(ticks) == datetime.date(*local[:3])
    assert dbapi.TimeFromTicks(ticks) == datetime.time(*local[3:6])
    assert dbapi.TimestampFromTicks(ticks) == datetime.datetime(*local[:6])


def test_constructed_values_can_be_bound_as_parameters(cur):
    cur.execute("SELECT ? AS d, ? AS b", [dbapi.Date(2024, 1, 2), dbapi.Binary(b"ab")])
    assert cur.fetchone() == (datetime.date(2024, 1, 2), b"ab")


# -- pyarrow and pandas -----------------------------------------------------------------------------

TYPED = (
    "SELECT * FROM (VALUES "
    "(1::BIGINT, 2.5::DOUBLE, 'a', '{\"k\": [1, 2]}'::JSON, true, TIMESTAMPTZ '2024-01-02 03:04:05+00'), "
    "(NULL, NULL, NULL, NULL, NULL, NULL)) AS t(n, x, s, j, b, ts)"
)


def test_fetch_arrow_builds_typed_columns_with_json_as_text(cur):
    import pyarrow as pa

    table = cur.execute(TYPED).fetch_arrow()
    assert table.column_names == ["n", "x", "s", "j", "b", "ts"]
    assert table.schema.types == [
        pa.int64(),
        pa.float64(),
        pa.string(),
        pa.string(),
        pa.bool_(),
        pa.timestamp("us", tz="UTC"),
    ]
    assert table.column("j").to_pylist() == ['{"k": [1, 2]}', None]
    assert table.column("n").to_pylist() == [1, None]
    assert cur.fetchall() == []


def test_fetch_df_returns_the_remaining_rows_as_a_dataframe(cur, services):
    cur.execute(SERVICES_LIKE_CLOUD)
    cur.fetchone()
    df = cur.fetch_df()
    assert list(df.columns) == ["id", "name", "title"]
    assert [tuple(r) for r in df.itertuples(index=False)] == services[1:]


def test_fetch_df_keeps_timestamps_in_utc_and_nulls(cur):
    df = cur.execute(TYPED).fetch_df()
    assert str(df["ts"].dt.tz) == "UTC"
    assert df["ts"].iloc[0].isoformat() == "2024-01-02T03:04:05+00:00"
    assert df["s"].isna().tolist() == [False, True]


def test_fetch_arrow_of_an_empty_result_keeps_the_columns(cur):
    table = cur.execute("SELECT 1::BIGINT AS n, 'a' AS s WHERE false").fetch_arrow()
    assert table.num_rows == 0
    assert table.column_names == ["n", "s"]


def test_fetch_arrow_without_pyarrow_says_how_to_install_it_and_keeps_the_rows(cur, monkeypatch):
    cur.execute("SELECT 1 AS a")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(dbapi.InterfaceError, match=r"pip install 'skyql\[arrow\]'"):
        cur.fetch_arrow()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(dbapi.InterfaceError, match=r"skyql\[pandas\]"):
        cur.fetch_df()
    assert cur.fetchall() == [(1,)]


def test_sql_through_the_dbapi_is_never_a_template(cur):
    # Templates are for .iql scripts; a query from Python is SQL, its parameters are `?`.
    cur.execute("SELECT '{{ cycler.__init__.__globals__ }}' AS a, '{% if %}' AS b, ? AS c", ("{{x}}",))
    assert cur.fetchall() == [("{{ cycler.__init__.__globals__ }}", "{% if %}", "{{x}}")]
