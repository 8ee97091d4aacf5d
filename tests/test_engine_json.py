"""SQLite's json1 functions in local SQL give what SQLite gives, checked against Python's sqlite3 on the same data."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from skyql.engine import Engine
from skyql.registry.model import Column
from skyql.sql.sqlite import rewrite_sql

DOCS: list[dict[str, Any]] = [
    {
        "team": "a",
        "n": 10,
        "f": True,
        "s": "x",
        "r": 1.5,
        "metrics": [{"metricId": "accuracy", "goal": "MAXIMIZE"}, {"metricId": "loss"}],
        "members": ["user:u1", "group:g2"],
        "labels": {"env": "prod", "owner": "ann"},
    },
    {"team": "b", "n": 9, "f": False, "metrics": [], "members": [], "r": -2.25},
    {"team": "a", "n": 1.5, "members": ["user:u3"], "nested": {"a": {"b": [1, 2, {"c": None}]}}},
    {"n": "seven", "team": None, "labels": {}},
    {},
]


def sqlite_with(docs: list[str]) -> sqlite3.Connection:
    """sqlite3 with table t (name, doc) holding the JSON texts `docs` as d1, d2, ..."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (name TEXT, doc TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(f"d{i + 1}", d) for i, d in enumerate(docs)])
    return conn


def engine_with(docs: list[str]) -> Engine:
    """An Engine whose table t (name, doc) holds the same, loaded as an API page of those exact bytes."""
    eng = Engine()
    eng.create_table("t", [Column("name", "string"), Column("doc", "object")], [])
    rows = ", ".join(f'{{"name": "d{i + 1}", "doc": {d}}}' for i, d in enumerate(docs))
    eng.load_page("t", f'{{"rows": [{rows}]}}'.encode(), "$.rows", {})
    eng.flush("t")
    return eng


@pytest.fixture(scope="module")
def lite() -> Iterator[sqlite3.Connection]:
    conn = sqlite_with([json.dumps(d) for d in DOCS])
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = engine_with([json.dumps(d) for d in DOCS])
    yield eng
    eng.close()


def norm(value: Any) -> Any:
    """Compare values, not spellings: 5 == '5' == 5.0, JSON text by its parsed value."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, dict | list):
            return parsed
        if isinstance(parsed, int | float) and not isinstance(parsed, bool) and math.isfinite(parsed):
            return float(parsed)
    return value


def both(lite: sqlite3.Connection, engine: Engine, sql: str, read: str) -> tuple[list, list]:
    expected = [tuple(norm(v) for v in row) for row in lite.execute(sql).fetchall()]
    got = [tuple(norm(v) for v in row) for row in engine.query(rewrite_sql(sql, read=read)).rows]
    return expected, got


SAME_AS_SQLITE = [
    # json_extract: strings as text, numbers as numbers, booleans 1/0, containers as JSON, missing NULL.
    "SELECT name, json_extract(doc, '$.team'), json_extract(doc, '$.n'), json_extract(doc, '$.f'),"
    " json_extract(doc, '$.labels'), json_extract(doc, '$.nope') FROM t ORDER BY name",
    "SELECT name FROM t WHERE json_extract(doc, '$.team') = 'a' ORDER BY name",
    "SELECT name FROM t WHERE json_extract(doc, '$.n') > 5 AND json_extract(doc, '$.n') < 100 ORDER BY name",
    "SELECT name, json_extract(doc, '$.metrics[0].metricId'), json_extract(doc, '$.metrics[1].goal'),"
    " json_extract(doc, '$.nested.a.b[#-1]'), json_extract(doc, '$.nested.a.b[2].c') FROM t ORDER BY name",
    "SELECT name, json_extract(doc, '$.team', '$.n', '$.labels') FROM t ORDER BY name",
    "SELECT name, doc ->> '$.team', doc ->> '$.r' FROM t ORDER BY name",
    "SELECT name FROM t WHERE json_extract(doc, '$.f') ORDER BY name",
    "SELECT name FROM t WHERE NOT json_extract(doc, '$.f') ORDER BY name",
    "SELECT name, CASE WHEN json_extract(doc, '$.f') THEN 'yes' ELSE 'no' END FROM t ORDER BY name",
    "SELECT name FROM t WHERE json_extract(doc, '$.n') IN (9, 10) ORDER BY name",
    "SELECT name FROM t WHERE json_extract(doc, '$.r') BETWEEN -3 AND 1.5 ORDER BY name",
    "SELECT name, json_extract(doc, '$.n') * 2, json_extract(doc, '$.r') + 1 FROM t WHERE name <> 'd4' ORDER BY name",
    "SELECT sum(json_extract(doc, '$.r')), avg(json_extract(doc, '$.r')), count(json_extract(doc, '$.team')) FROM t",
    # SQLite's order for mixed types: NULL, numbers by value, then text.
    # (skyql's dialect puts NULLs last by default, as DuckDB does: say where SQLite's default is meant.)
    "SELECT name FROM t ORDER BY json_extract(doc, '$.n') NULLS FIRST, name",
    "SELECT name FROM t ORDER BY json_extract(doc, '$.n') DESC NULLS LAST, name",
    "SELECT name, json_extract(doc, '$.n') AS n FROM t ORDER BY n NULLS FIRST, name",
    "SELECT name, json_extract(doc, '$.n') AS n FROM t ORDER BY n DESC NULLS FIRST, name",
    "SELECT name, coalesce(json_extract(doc, '$.r'), 0) > 1, CASE WHEN name = 'd1' THEN json_extract(doc, '$.n')"
    " ELSE 0 END + 1 FROM t WHERE name <> 'd4' ORDER BY name",
    "SELECT name FROM t WHERE name <> 'd4' ORDER BY coalesce(json_extract(doc, '$.n'), -1), name",
    "SELECT name FROM t ORDER BY coalesce(json_extract(doc, '$.team'), 'zz') DESC, name",
    "SELECT max(coalesce(json_extract(doc, '$.r'), -5)) FROM t",
    "SELECT max(json_extract(doc, '$.n')), min(json_extract(doc, '$.n')), max(json_extract(doc, '$.r')) FROM t",
    "SELECT json_extract(doc, '$.team') AS team, count(*) FROM t GROUP BY team ORDER BY team NULLS LAST",
    # ORDER BY a position or an alias sorts by the projection's value, in the same order.
    "SELECT json_extract(doc, '$.n') FROM t ORDER BY 1 NULLS FIRST",
    "SELECT name, json_extract(doc, '$.r') AS r FROM t ORDER BY 2 DESC NULLS LAST, 1",
    "SELECT json_extract(doc, '$.n') AS n, count(*) FROM t GROUP BY 1 ORDER BY 1 NULLS FIRST",
    # Integers beyond 64 bits are still 'integer' to SQLite (their value is a real).
    'SELECT json_type(\'{"b": 99999999999999999999, "c": 1e2, "d": -7}\', \'$.\' || k) FROM'
    " (SELECT 'b' AS k UNION ALL SELECT 'c' UNION ALL SELECT 'd') ORDER BY k",
    "SELECT key, type FROM json_each('[99999999999999999999, 2.0, -0]') ORDER BY key",
    # The other json1 functions.
    "SELECT name, json_array_length(doc, '$.members'), json_array_length(doc, '$.nope'), json_array_length(doc)"
    " FROM t ORDER BY name",
    "SELECT name, json_type(doc), json_type(doc, '$.n'), json_type(doc, '$.f'), json_type(doc, '$.team'),"
    " json_type(doc, '$.labels'), json_type(doc, '$.members'), json_type(doc, '$.r'), json_type(doc, '$.nope')"
    " FROM t ORDER BY name",
    "SELECT name, json_valid(doc), json_valid(name), json_valid('[1,') FROM t ORDER BY name",
    "SELECT name, json_object('team', json_extract(doc, '$.team'), 'labels', json_extract(doc, '$.labels'),"
    " 'n', json_extract(doc, '$.n')) FROM t ORDER BY name",
    "SELECT name, json_array(json_extract(doc, '$.n'), 'x', json_extract(doc, '$.metrics')) FROM t ORDER BY name",
    "SELECT json_group_object(name, json_extract(doc, '$.n')) FROM t",
    "SELECT json_group_array(name), json_group_object(name, 1) FROM t WHERE name = 'nobody'",
    "SELECT json_extract(doc, '$.team') AS team, json_group_array(json_extract(doc, '$.labels')) FROM t"
    " WHERE json_extract(doc, '$.team') = 'b' GROUP BY team",
    # json_each in its three shapes, with SQLite's columns.
    "SELECT t.name, e.key, e.value, e.type, e.atom, e.fullkey, e.path FROM t, json_each(t.doc, '$.members') AS e"
    " ORDER BY t.name, e.key",
    "SELECT t.name, m.value FROM t JOIN json_each(t.doc, '$.members') AS m ON 1 = 1 ORDER BY t.name, m.value",
    'SELECT value FROM json_each(\'["a", "b"]\') ORDER BY value',
    'SELECT key, value, type, atom, fullkey FROM json_each(\'{"a": 1, "b": "x", "c": true, "d": null,'
    ' "e": [1], "f": {"g": 1}, "h": 1.5}\') ORDER BY key',
    "SELECT t.name, e.key, e.type FROM t, json_each(t.doc) AS e WHERE t.name = 'd1' ORDER BY e.key",
    "SELECT value FROM json_each('[1, 5, 10, 2.5]') WHERE value > 4 ORDER BY value",
    "SELECT json_extract(value, '$.metricId') FROM t, json_each(t.doc, '$.metrics') ORDER BY 1",
    "SELECT t.name, count(e.value) FROM t LEFT JOIN json_each(t.doc, '$.members') AS e ON 1 = 1"
    " GROUP BY t.name ORDER BY t.name",
    "SELECT key, value FROM json_tree('{\"a\": {\"b\": [1, \"z\"]}}') WHERE type NOT IN ('object', 'array')"
    " ORDER BY fullkey",
]


@pytest.mark.parametrize("read", ["duckdb", "sqlite"])
@pytest.mark.parametrize("sql", SAME_AS_SQLITE)
def test_json_functions_answer_as_sqlite_does(
    lite: sqlite3.Connection, engine: Engine, sql: str, read: str
) -> None:
    expected, got = both(lite, engine, sql, read)
    assert got == expected


def test_json_extract_text_equals_a_string_literal(engine: Engine) -> None:
    rows = engine.query(
        rewrite_sql("SELECT name FROM t WHERE json_extract(doc, '$.team') = 'a' ORDER BY 1")
    ).rows
    assert rows == [("d1",), ("d3",)]


def test_json_extract_compares_numerically_with_a_number(engine: Engine) -> None:
    # As text, '9' > '10' and '1.5' < '10' would give the wrong answer.
    rows = engine.query(rewrite_sql("SELECT name FROM t WHERE json_extract(doc, '$.n') > 5 ORDER BY 1")).rows
    assert rows == [("d1",), ("d2",)]


def test_json_extract_of_an_array_index_path_returns_the_element_text(engine: Engine) -> None:
    sql = "SELECT json_extract(doc, '$.metrics[0].metricId') AS metric FROM t WHERE name = 'd1'"
    result = engine.query(rewrite_sql(sql))
    assert result.rows == [("accuracy",)]
    assert result.types == ["VARCHAR"]


def test_order_by_an_alias_that_is_also_a_table_column_sorts_by_the_projection(engine: Engine) -> None:
    # `name` is a column of t too; ORDER BY names the select list first, as SQL (and SQLite) say.
    sql = "SELECT json_extract(doc, '$.n') AS name FROM t ORDER BY name NULLS FIRST"
    assert engine.query(rewrite_sql(sql)).rows == [(None,), (1.5,), (9,), (10,), ("seven",)]


def test_group_by_all_with_order_by_a_json_value_binds(engine: Engine) -> None:
    # DuckDB cannot bind ORDER BY expressions next to GROUP BY ALL; the rewrite spells the keys out.
    sql = (
        "SELECT e.value AS member, count(*) AS n FROM t, json_each(t.doc, '$.members') AS e"
        " GROUP BY ALL ORDER BY member"
    )
    assert engine.query(rewrite_sql(sql)).rows == [("group:g2", 1), ("user:u1", 1), ("user:u3", 1)]
    by_team = "SELECT json_extract(doc, '$.team') AS team, count(*) FROM t GROUP BY ALL ORDER BY team"
    assert engine.query(rewrite_sql(by_team)).rows == [(None, 2), ("a", 2), ("b", 1)]  # NULL first, as SQLite


def test_json_extract_keeps_sqlite_column_names(engine: Engine) -> None:
    result = engine.query(rewrite_sql("SELECT json_extract(doc, '$.team'), name FROM t LIMIT 1"))
    assert result.columns == ["json_extract(doc, '$.team')", "name"]


def test_numeric_strings_compare_as_numbers_unlike_sqlite(engine: Engine) -> None:
    # Google sends int64 values as JSON strings; in a numeric context skyql reads them as numbers.
    engine.create_table("g", [Column("out", "object")], [])
    engine.load_rows("g", [{"out": {"completedTrialCount": "12"}}, {"out": {"completedTrialCount": "3"}}], {})
    sql = "SELECT json_extract(out, '$.completedTrialCount') FROM g WHERE json_extract(out, '$.completedTrialCount') > 5"
    assert engine.query(rewrite_sql(sql)).rows == [("12",)]


def test_text_that_is_not_a_number_is_null_in_arithmetic_where_sqlite_gives_0(engine: Engine) -> None:
    sql = "SELECT json_extract(doc, '$.n') * 2 FROM t WHERE name = 'd4'"
    assert engine.query(rewrite_sql(sql)).rows == [(None,)]


def test_json_functions_nest_objects_instead_of_quoting_them(engine: Engine) -> None:
    sql = "SELECT json_object('labels', json_extract(doc, '$.labels')) FROM t WHERE name = 'd1'"
    result = engine.query(rewrite_sql(sql))
    assert json.loads(result.rows[0][0]) == {"labels": {"env": "prod", "owner": "ann"}}
    assert result.types == ["JSON"]


def test_json_each_value_is_text_not_json(engine: Engine) -> None:
    sql = "SELECT e.value FROM t, json_each(t.doc, '$.members') AS e WHERE e.value = 'user:u1'"
    result = engine.query(rewrite_sql(sql))
    assert result.rows == [("user:u1",)]
    assert result.types == ["VARCHAR"]


def test_split_part_takes_negative_positions(engine: Engine) -> None:
    sql = "SELECT split_part('projects/p/locations/us/jobs/j7', '/', -1), split_part('a/b', '/', 1)"
    assert engine.query(rewrite_sql(sql)).rows == [("j7", "a")]


def test_datetime_now_with_a_modifier_compares_with_timestamps(engine: Engine) -> None:
    sql = (
        "SELECT datetime('now', '-7 days') < now(), datetime('now', '+1 hour') > now(), "
        "strftime('%Y', 'now') = strftime('%Y', now()), date('now') = current_date"
    )
    assert engine.query(rewrite_sql(sql)).rows == [(True, True, True, True)]


def test_a_modifier_sqlite_does_not_know_gives_null_as_in_sqlite(engine: Engine) -> None:
    sql = "SELECT datetime('2024-05-05', 'weekday 0'), datetime('2024-05-05', 'fortnight')"
    assert engine.query(rewrite_sql(sql)).rows == [("2024-05-05 00:00:00", None)]


def test_rewrite_does_not_change_its_input() -> None:
    import sqlglot

    from skyql.sql.sqlite_json import rewrite

    tree = sqlglot.parse_one("SELECT json_extract(doc, '$.a') FROM t WHERE json_extract(doc, '$.n') > 1")
    before = tree.sql()
    rewrite(tree)
    assert tree.sql() == before
