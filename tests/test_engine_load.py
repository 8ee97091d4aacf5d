"""Loading API pages into typed DuckDB tables, and running local SQL over them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyql.engine import Engine
from skyql.errors import ApiError, NotFoundError, SkyqlError, SqlError
from skyql.registry import Registry
from skyql.registry.model import Column

UTC = dt.UTC
ALL_TYPES = [
    Column("s", "string"),
    Column("ts", "string", format="google-datetime"),
    Column("dt", "string", format="date-time"),
    Column("day", "string", format="date"),
    Column("mask", "string", format="google-fieldmask"),
    Column("dur", "string", format="google-duration"),
    Column("raw", "string", format="byte"),
    Column("i32", "integer", format="int32"),
    Column("u32", "integer", format="uint32"),
    Column("i64", "integer", format="int64"),
    Column("u64", "integer", format="uint64"),
    Column("num", "number", format="double"),
    Column("flt", "number", format="float"),
    Column("b", "boolean"),
    Column("obj", "object"),
    Column("arr", "array"),
]
EXPECTED_TYPES = [
    "VARCHAR",
    "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMP WITH TIME ZONE",
    "DATE",
    "VARCHAR",
    "VARCHAR",
    "VARCHAR",
    "BIGINT",
    "BIGINT",
    "BIGINT",
    "UBIGINT",
    "DOUBLE",
    "DOUBLE",
    "BOOLEAN",
    "JSON",
    "JSON",
]


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine()
    yield eng
    eng.close()


def page(items: list[dict[str, Any]] | None, key: str = "items", token: str | None = None) -> bytes:
    body: dict[str, Any] = {} if items is None else {key: items}
    if token:
        body["nextPageToken"] = token
    return json.dumps(body).encode()


def all_types_table(engine: Engine) -> None:
    engine.create_table("t", ALL_TYPES, ["projectsId"])


def test_every_type_word_and_format_gets_its_duckdb_type(engine: Engine) -> None:
    all_types_table(engine)
    result = engine.query("SELECT * FROM t")
    assert result.columns == [c.name for c in ALL_TYPES] + ["projectsId"]
    assert result.types == EXPECTED_TYPES + ["VARCHAR"]


def test_values_arrive_typed(engine: Engine) -> None:
    all_types_table(engine)
    item = {
        "s": "hello",
        "ts": "2024-05-06T07:08:09.123456789Z",
        "dt": "2024-05-06T09:08:09+02:00",
        "day": "2024-05-06",
        "mask": "labels,state",
        "dur": "3.5s",
        "raw": "AAEC",
        "i32": 7,
        "u32": 8,
        "i64": "-9007199254740993",
        "u64": "18446744073709551615",
        "num": 1.25,
        "flt": "NaN",
        "b": True,
        "obj": {"a": [1, {"b": None}]},
        "arr": ["x", 2],
    }
    assert engine.load_page("t", page([item]), "$.items", {"projectsId": "p"}) + engine.flush("t") == 1
    row = engine.query("SELECT * FROM t").rows[0]
    assert row[:7] == (
        "hello",
        dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        dt.date(2024, 5, 6),
        "labels,state",
        "3.5s",
        "AAEC",
    )
    assert row[7:13] == (7, 8, -9007199254740993, 18446744073709551615, 1.25, row[12])
    assert row[12] != row[12]  # NaN
    assert row[13:] == (True, '{"a":[1,{"b":null}]}', '["x",2]', "p")


def test_values_that_do_not_fit_their_type_are_null(engine: Engine) -> None:
    all_types_table(engine)
    item = {
        "ts": "yesterday",
        "day": "soon",
        "i64": "abc",
        "u64": "-1",
        "i32": {"x": 1},
        "num": "many",
        "b": "perhaps",
    }
    engine.load_page("t", page([item]), "$.items", {})
    assert engine.query("SELECT ts, day, i64, u64, i32, num, b FROM t").rows == [(None,) * 7]


def test_missing_fields_are_null(engine: Engine) -> None:
    all_types_table(engine)
    engine.load_page("t", page([{"s": "only"}, {}]), "$.items", {"projectsId": "p"})
    rows = engine.query("SELECT * FROM t ORDER BY s").rows
    assert rows == [("only",) + (None,) * 15 + ("p",), (None,) * 16 + ("p",)]


@pytest.mark.parametrize("body", [b"{}", b'{"nextPageToken": "x"}', b'{"items": []}', b'{"items": null}'])
def test_a_page_without_the_list_adds_no_rows(engine: Engine, body: bytes) -> None:
    all_types_table(engine)
    assert engine.load_page("t", body, "$.items", {}) + engine.flush("t") == 0
    assert engine.query("SELECT count(*) FROM t").rows == [(0,)]


def test_a_get_response_is_one_row(engine: Engine) -> None:
    engine.create_table("j", Registry().lookup("google.ml.jobs").columns(), ["projectsId", "jobsId"])
    body = (
        b'{"jobId": "train_1", "state": "RUNNING", "jobPosition": "3", "createTime": "2024-01-02T03:04:05Z"}'
    )
    assert (
        engine.load_page("j", body, None, {"projectsId": "p", "jobsId": "train_1"}) + engine.flush("j") == 1
    )
    assert engine.query("SELECT jobId, state, jobPosition, projectsId, jobsId FROM j").rows == [
        ("train_1", "RUNNING", 3, "p", "train_1")
    ]


def test_timestamps_work_with_interval_arithmetic(engine: Engine) -> None:
    engine.create_table("j", Registry().lookup("google.ml.jobs").columns(), ["projectsId"])
    now = dt.datetime.now(UTC)
    items = [
        {"jobId": "recent", "createTime": (now - dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")},
        {"jobId": "old", "createTime": (now - dt.timedelta(days=30)).isoformat().replace("+00:00", "Z")},
    ]
    engine.load_page("j", page(items, "jobs"), "$.jobs", {"projectsId": "p"})
    sql = "SELECT jobId, date_diff('day', createTime, now()) FROM j WHERE createTime > now() - INTERVAL 7 DAY"
    assert engine.query(sql).rows == [("recent", 1)]


def test_parameter_columns_are_filled_per_partition(engine: Engine) -> None:
    engine.create_table("h", [Column("name", "string")], ["projectsId", "locationsId"])
    for project in ("p1", "p2"):
        for location in ("us-central1", "europe-west4"):
            items = [{"name": f"{project}/{location}/{i}"} for i in range(3)]
            engine.load_page("h", page(items), "$.items", {"projectsId": project, "locationsId": location})
    rows = engine.query(
        "SELECT projectsId, locationsId, count(*), min(name) FROM h GROUP BY ALL ORDER BY ALL"
    ).rows
    assert rows == [
        ("p1", "europe-west4", 3, "p1/europe-west4/0"),
        ("p1", "us-central1", 3, "p1/us-central1/0"),
        ("p2", "europe-west4", 3, "p2/europe-west4/0"),
        ("p2", "us-central1", 3, "p2/us-central1/0"),
    ]


def test_partition_values_that_are_not_strings_become_text(engine: Engine) -> None:
    engine.create_table("h", [Column("name", "string")], ["zone", "n", "flag"])
    engine.load_page("h", page([{"name": "a"}]), "$.items", {"zone": None, "n": 7, "flag": True})
    assert engine.query("SELECT zone, n, flag FROM h").rows == [(None, "7", "true")]


def test_a_parameter_named_like_a_row_column_fills_it_from_the_request(engine: Engine) -> None:
    # Compute's `zone` parameter is also a row column (a URL there): the WHERE that chose the requests
    # (`zone = 'us-central1-a'`) must match the rows they returned.
    engine.create_table(
        "h", [Column("jobId", "string"), Column("ProjectsId", "string")], ["projectsId", "jobsId"]
    )
    engine.load_page(
        "h", page([{"jobId": "j", "ProjectsId": "from-row"}]), "$.items", {"projectsId": "param"}
    )
    engine.load_page("h", page([{"jobId": "k", "ProjectsId": "from-row"}]), "$.items", {})
    result = engine.query("SELECT * FROM h ORDER BY jobId")
    assert result.columns == ["jobId", "ProjectsId", "jobsId"]
    assert result.rows == [("j", "param", None), ("k", "from-row", None)]


def test_many_pages_load_in_batches_and_are_all_visible_to_a_query(engine: Engine) -> None:
    engine.create_table("h", [Column("n", "integer", format="int64")], ["part"])
    added = 0
    for p in range(60):
        items = [{"n": str(p * 50 + i)} for i in range(50)]
        added += engine.load_page("h", page(items, token="t"), "$.items", {"part": str(p % 3)})
    assert added < 3000  # some pages are still buffered...
    assert added + engine.flush("h") == 3000
    assert engine.query("SELECT count(*), sum(n), count(DISTINCT part) FROM h").rows == [(3000, 4498500, 3)]


def test_a_query_sees_pages_still_buffered(engine: Engine) -> None:
    engine.create_table("h", [Column("n", "integer")], [])
    for p in range(5):
        engine.load_page("h", page([{"n": p}]), "$.items", {})
    assert engine.query("SELECT count(*), sum(n) FROM h").rows == [(5, 10)]


def test_load_rows_types_decoded_rows_like_pages(engine: Engine) -> None:
    all_types_table(engine)
    engine.load_rows(
        "t", [{"s": "x", "i64": "12", "ts": "2024-01-01T00:00:00Z", "obj": {"k": "v"}}], {"projectsId": "p"}
    )
    assert engine.query("SELECT s, i64, ts, obj, projectsId FROM t").rows == [
        ("x", 12, dt.datetime(2024, 1, 1, tzinfo=UTC), '{"k":"v"}', "p")
    ]


def test_rows_without_schema_properties_land_in_a_value_column(engine: Engine) -> None:
    engine.create_table("v", [], ["projectsId"])
    engine.load_page("v", b'{"names": ["a", {"b": 1}]}', "$.names", {"projectsId": "p"})
    assert engine.query("SELECT value, projectsId FROM v ORDER BY 1").rows == [('"a"', "p"), ('{"b":1}', "p")]


def test_distinct_gives_sorted_non_null_values(engine: Engine) -> None:
    engine.create_table("h", [Column("jobId", "string")], ["projectsId"])
    engine.load_page(
        "h", page([{"jobId": "b"}, {"jobId": "a"}, {}, {"jobId": "b"}]), "$.items", {"projectsId": "p"}
    )
    assert engine.distinct("h", "jobId") == ["a", "b"]
    assert engine.distinct("h", "projectsid") == ["p"]
    with pytest.raises(NotFoundError, match="jobId"):
        engine.distinct("h", "jobid_")


def test_malformed_json_is_an_api_error_and_earlier_pages_are_kept(engine: Engine) -> None:
    engine.create_table("h", [Column("name", "string")], ["projectsId"])
    engine.load_page("h", page([{"name": "first"}]), "$.items", {"projectsId": "p1"})
    engine.load_page("h", page([{"name": "second"}]), "$.items", {"projectsId": "p1"})
    engine.load_page("h", b'{"items": [{"name": "third"}', "$.items", {"projectsId": "p2"})
    with pytest.raises(ApiError, match="malformed JSON") as err:
        engine.flush("h")
    assert err.value.params == {"projectsId": "p2"}
    assert "third" not in str(err.value)  # the page's content is not echoed
    assert engine.query("SELECT name FROM h ORDER BY 1").rows == [("first",), ("second",)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"items": {"name": "x"}}', '"items" is an object, not an array'),
        (b'{"items": "x"}', '"items" is a string, not an array'),
        (b'[{"name": "x"}]', "the response is an array, not an object"),
        (b"", "malformed JSON"),
        (b'{"items": [{"name": "\xff"}]}', "not valid UTF-8"),
    ],
)
def test_a_page_skyql_cannot_read_is_an_api_error(engine: Engine, body: bytes, message: str) -> None:
    engine.create_table("h", [Column("name", "string")], [])
    with pytest.raises(ApiError, match=message):
        engine.load_page("h", body, "$.items", {})
        engine.flush("h")


def test_json_columns_come_back_as_json_text(engine: Engine) -> None:
    engine.create_table("j", Registry().lookup("google.ml.jobs").columns(), ["projectsId"])
    engine.load_page(
        "j", page([{"labels": {"team": "a"}, "trainingInput": {"args": ["--x", 1]}}], "jobs"), "$.jobs", {}
    )
    result = engine.query("SELECT labels, trainingInput, labels->>'$.team' AS team FROM j")
    assert result.types == ["JSON", "JSON", "VARCHAR"]
    assert result.rows == [('{"team":"a"}', '{"args":["--x",1]}', "a")]


def test_query_takes_parameters(engine: Engine) -> None:
    engine.create_table("h", [Column("n", "integer")], [])
    engine.load_page("h", page([{"n": 1}, {"n": 5}]), "$.items", {})
    assert engine.query("SELECT n FROM h WHERE n > ?", [2]).rows == [(5,)]


def test_query_arrow_returns_a_table_with_zoned_timestamps(engine: Engine) -> None:
    engine.create_table("j", [Column("t", "string", format="google-datetime")], [])
    engine.load_page("j", page([{"t": "2024-01-01T00:00:00Z"}]), "$.items", {})
    table = engine.query_arrow("SELECT t FROM j")
    assert table.num_rows == 1
    assert str(table.schema.field("t").type) == "timestamp[us, tz=UTC]"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT nope FROM h", 'Referenced column "nope" not found'),
        ("SELECT nam FROM h", 'Candidate bindings: "name"'),
        ("SELEC name FROM h", "syntax error"),
        ("SELECT * FROM missing_table", "missing_table does not exist"),
        ("SELECT name + 1 FROM h", "No function matches"),
    ],
)
def test_bad_local_sql_is_a_one_line_sql_error(engine: Engine, sql: str, message: str) -> None:
    engine.create_table("h", [Column("name", "string")], [])
    with pytest.raises(SqlError, match=message) as err:
        engine.query(sql)
    assert "\n" not in str(err.value)
    assert "LINE 1" not in str(err.value)


def test_dropped_tables_are_gone(engine: Engine) -> None:
    engine.create_table("h", [Column("name", "string")], [])
    engine.load_page("h", page([{"name": "x"}]), "$.items", {})
    engine.drop("h")
    with pytest.raises(SqlError, match="does not exist"):
        engine.query("SELECT * FROM h")


def test_safe_mode_refuses_file_access(tmp_path: Path) -> None:
    csv = tmp_path / "secret.csv"
    csv.write_text("a\n1\n")
    open_engine = Engine()
    assert open_engine.query(f"SELECT a FROM read_csv('{csv}')").rows == [(1,)]
    open_engine.close()
    safe = Engine(safe=True)
    try:
        for sql in (
            f"SELECT * FROM read_csv('{csv}')",
            "SELECT * FROM read_csv('/etc/passwd')",
            f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
        ):
            with pytest.raises(SkyqlError, match="file access is disabled in safe mode"):
                safe.query(sql)
        with pytest.raises(SqlError, match="locked"):
            safe.query("SET enable_external_access = true")
        with pytest.raises(SqlError):
            safe.query("INSTALL httpfs")
        # Loading and the JSON macros still work.
        safe.create_table("h", [Column("doc", "object")], [])
        safe.load_page("h", page([{"doc": {"a": "x"}}]), "$.items", {})
        assert safe.query("SELECT sqlite_json_text(doc, '$.a') FROM h").rows == [("x",)]
    finally:
        safe.close()
