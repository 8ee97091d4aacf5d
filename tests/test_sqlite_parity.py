"""The local SQL means what SQLite (StackQL's engine) means: the same SQL over the same rows gives the same answer
in skyql's engine as in Python's sqlite3, over expressions hypothesis generates, and over hand-picked cases.

Answers are compared as values: a real equals a real within 1e-9 relative (float formatting only), and DuckDB's
true/false equal SQLite's 1/0 (as in Python). A DuckDB expression has one type, so where SQLite's may give an integer
or a real (max(i, r), coalesce(i, r)), skyql's real equals SQLite's integer of the same value. Everything else must
be equal, type included (int, float, str, None). docs/sql.md lists these differences.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyql.engine import Engine
from skyql.errors import SqlError
from skyql.registry.model import Column
from skyql.sql.sqlite import rewrite_sql

ROWS: list[tuple[Any, ...]] = [
    ("a", "x", 1, 1.5, "2024-05-05T08:30:51Z"),
    ("b", "X", 2, None, "2024-01-31"),
    ("c", None, -5, -2.5, None),
    ("d", "é Ünï", None, 0.0, "2023-12-31 23:59:59.250"),
    ("e", "Ab_c%d", 7, 7.25, "2024-02-29T12:00:00+02:00"),
    ("f", "  pad  ", 0, 1e-3, "12:30"),
    ("g", "abc", 2, 1234.5678, "2460000.5"),
]
COLUMNS = [
    Column("k", "string"),
    Column("s", "string"),
    Column("i", "integer"),
    Column("r", "number"),
    Column("d", "string"),
]


@pytest.fixture(scope="module")
def lite() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k TEXT, s TEXT, i INTEGER, r REAL, d TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", ROWS)
    # StackQL's extension functions (stackql/sqlite-ext-functions), as their C code behaves.
    conn.create_function("json_equal", 2, _json_equal_reference, deterministic=True)
    conn.create_function("split_part", 3, _split_part_reference, deterministic=True)
    conn.create_function(
        "regexp_like",
        2,
        lambda s, p: None if s is None or p is None else int(re.search(p, s) is not None),
        deterministic=True,
    )
    conn.create_function(
        "regexp_substr",
        2,
        lambda s, p: None if s is None or p is None else (m.group(0) if (m := re.search(p, s)) else None),
        deterministic=True,
    )
    conn.create_function(
        "regexp_replace",
        3,
        lambda s, p, r: None if None in (s, p, r) else re.sub(p, r, s),
        deterministic=True,
    )
    yield conn
    conn.close()


def _json_equal_reference(a: str, b: str) -> int:
    import json

    return int(json.loads(a) == json.loads(b))


def _split_part_reference(source: str | None, sep: str | None, part: int) -> str | None:
    if source is None or not sep:
        return None
    parts = source.split(sep)
    index = len(parts) + part if part < 0 else part - 1
    return parts[index] if 0 <= index < len(parts) else None


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = Engine()
    eng.create_table("t", COLUMNS, [])
    eng.load_rows("t", [dict(zip("ksird", row, strict=True)) for row in ROWS], {})
    yield eng
    eng.close()


def _same(a: Any, b: Any) -> bool:
    """SQLite's value `a`, skyql's `b`."""
    if isinstance(a, int) and not isinstance(a, bool) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b and not isinstance(a, float) and not isinstance(b, float)
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def assert_same_answer(lite: sqlite3.Connection, engine: Engine, sql: str) -> None:
    try:
        expected = lite.execute(sql).fetchall()
    except sqlite3.Error:
        return  # not SQL SQLite runs (the generator may build such): nothing to compare
    got = engine.query(rewrite_sql(sql)).rows
    assert len(got) == len(expected), (sql, expected, got)
    for want_row, got_row in zip(expected, got, strict=True):
        assert all(_same(w, g) for w, g in zip(want_row, got_row, strict=True)), (sql, expected, got)


# -- hand-picked: what the issue names ------------------------------------------------------------

SAME_AS_SQLITE = [
    # two-argument max/min are scalar (one row per row), NULL when an argument is NULL
    "SELECT k, max(i, 2), min(i, r), max(s, 'b'), min(1, 2, 3) FROM t ORDER BY k",
    "SELECT count(*) FROM (SELECT max(i, 0) AS m FROM t)",
    "SELECT max(i), min(r) FROM t",
    # date and time functions, with modifiers and strftime's formats
    "SELECT k, julianday(d), date(d), time(d), datetime(d), unixepoch(d) FROM t ORDER BY k",
    "SELECT k, strftime('%s', d), strftime('%Y-%m-%d %H:%M:%f', d), strftime('%j %w %W %J', d) FROM t ORDER BY k",
    "SELECT k, date(d, '+1 day'), date(d, 'start of month'), datetime(d, '-3 hours', '+15 minutes'),"
    " date(d, 'start of year', '+1 month', '-1 day'), date(d, 'weekday 0'), datetime(d, 'utc'),"
    " datetime(d, 'localtime'), datetime(d, 'start of day', '+1 day', '-1 second') FROM t ORDER BY k",
    "SELECT datetime(1700000000, 'unixepoch'), date(1700000000, 'unixepoch', 'start of day'),"
    " julianday('2024-05-05') - julianday('2024-01-01'), strftime('%s', '2024-05-05T08:30:51Z') + 0",
    "SELECT time('12:30:15', '+90 minutes'), datetime('2024-01-31', '+1 month'), date('2024-03-31', '-1 month')",
    # aggregates
    "SELECT total(i), total(r), sum(i), avg(r), count(s), group_concat(k), group_concat(k, '; ') FROM t",
    "SELECT total(i) FROM t WHERE k = 'none'",
    # bare columns beside GROUP BY or an aggregate
    "SELECT max(r), k FROM t",
    "SELECT k, min(i) FROM t",
    "SELECT i, k FROM t WHERE i IS NOT NULL AND i <> 2 GROUP BY i ORDER BY i",
    "SELECT upper(k), count(*) FROM t GROUP BY upper(k) ORDER BY 1",
    "SELECT count(*) FILTER (WHERE i > 1), group_concat(k ORDER BY r DESC) FROM t",
    "SELECT s IS NULL, count(*) FROM t GROUP BY s IS NULL ORDER BY 1",
    # text functions
    "SELECT k, upper(s), lower(s), length(s), substr(s, 2), substr(s, -3, 2), substr(s, 0, 2), instr(s, 'b'),"
    " replace(s, 'a', 'A'), trim(s), ltrim(s), rtrim(s), trim(s, ' p'), s || '!', ifnull(s, '-') FROM t ORDER BY k",
    "SELECT k, length(i), substr(i, 2), instr(i, '5'), trim(i, '-'), replace(i, '5', 'five'), length(NULL),"
    " upper(i) FROM t ORDER BY k",
    "SELECT k, printf('%5.2f|%d|%s|%x|%-4s|', r, i, s, i, k), format('%03d', i), printf('%s', NULL) FROM t ORDER BY k",
    "SELECT k, typeof(i), typeof(r), typeof(s), typeof(d), typeof(1.5), typeof(2), typeof(NULL) FROM t ORDER BY k",
    "SELECT k, iif(i > 1, 'big', 'small'), coalesce(s, k), abs(i), abs(r), round(r), round(r, 2), round(i) "
    "FROM t ORDER BY k",
    "SELECT k FROM t WHERE s LIKE 'X%' ORDER BY k",
    "SELECT k FROM t WHERE s LIKE '%b\\_c%' ESCAPE '\\' ORDER BY k",
    "SELECT k FROM t WHERE s NOT LIKE 'a%' ORDER BY k",
    "SELECT k FROM t WHERE s GLOB '[a-c]*' ORDER BY k",
    "SELECT 'ABC' LIKE 'abc', 'É' LIKE 'é', 'abc' GLOB 'A*'",
    # arithmetic and casts
    "SELECT 5 / 2, -5 / 2, 5 / 0, 7.0 / 2, 7 / 2.0, 5 % 0, -7 % 3, 0.1 + 0.2",
    "SELECT k, i / 2, i * 3 / 4, r / 2 FROM t ORDER BY k",
    "SELECT k, CAST(s AS INTEGER), CAST(r AS INTEGER), CAST(d AS INTEGER), CAST(s AS REAL), CAST(i AS REAL),"
    " CAST('12abc' AS INTEGER), CAST(' -3.9e1x' AS REAL), CAST(-1.9 AS INT) FROM t ORDER BY k",
    "SELECT k FROM t ORDER BY r, k",
    "SELECT k FROM t ORDER BY s DESC, k",
    # JSON functions StackQL users type
    "SELECT json_array_length('[1,2,3]'), json_type('{\"a\":[1]}', '$.a'), json_object('a', 1, 'b', 'x'),"
    " json_array(1, 'x', NULL)",
    'SELECT typeof(json_extract(\'{"a": 1, "b": 1.5, "c": "x", "d": true, "e": [1], "f": null}\', p))'
    " FROM (SELECT '$.' || k AS p FROM t)",
    "SELECT json_group_array(i), json_group_object(k, r) FROM t",
    "SELECT k, split_part(d, '-', 2), split_part(d, '-', -1), split_part(d, '-', 4), split_part(s, '', 1),"
    " split_part(s, ' ', 0), regexp_like(s, '^[a-z]+$'), regexp_substr(d, '[0-9]+:[0-9]+'),"
    " regexp_replace(d, '[0-9]', '#'), replace(k, '', s) FROM t ORDER BY k",
    "SELECT json_equal('{\"a\": 1, \"b\": [1, 2]}', '{\"b\": [1, 2], \"a\": 1}'), json_equal('[1, 2]', '[2, 1]')",
]


@pytest.mark.parametrize("sql", SAME_AS_SQLITE)
def test_the_local_sql_answers_as_sqlite_does(lite: sqlite3.Connection, engine: Engine, sql: str) -> None:
    assert_same_answer(lite, engine, sql)


def test_now_gives_sqlite_shaped_text(engine: Engine) -> None:
    row = engine.query(
        rewrite_sql(
            "SELECT date('now'), time('now'), datetime('now'), datetime('now', '-7 days') < datetime('now'),"
            " typeof(julianday('now')), strftime('%Y', 'now') = strftime('%Y', now())"
        )
    ).rows[0]
    assert len(row[0]) == 10 and row[0][4] == "-"
    assert len(row[1]) == 8 and row[1][2] == ":"
    assert len(row[2]) == 19
    assert row[3:] == (True, "real", True)


def test_json_equal_of_null_is_an_error(engine: Engine) -> None:
    with pytest.raises(SqlError, match="json_equal"):
        engine.query(rewrite_sql("SELECT json_equal(s, '{}') FROM t"))


# -- generated: expressions hypothesis builds -----------------------------------------------------

SMALL_INT = st.integers(-20, 20).map(str)
REAL = st.sampled_from(["0.5", "1.25", "-2.5", "3.0", "0.1", "100.125"])
TEXT = st.sampled_from(
    ["'abc'", "'ABC'", "'a_c'", "''", "'x%'", "'  sp '", "'é'", "'12abc'", "'-4.5z'", "NULL"]
)
DATE = st.sampled_from(["d", "'2024-05-05'", "'2024-02-29 13:14:15'", "'2023-01-01T00:00:00Z'", "'bogus'"])
MODIFIER = st.sampled_from(
    [
        "'+1 day'",
        "'-2 months'",
        "'start of month'",
        "'start of year'",
        "'+36 hours'",
        "'weekday 3'",
        "'start of day'",
        "'-1 year'",
    ]
)
FORMAT = st.sampled_from(["'%Y'", "'%m/%d'", "'%s'", "'%H:%M:%S'", "'%j'", "'%w'", "'%f'", "'%J'"])


def _exprs() -> tuple[st.SearchStrategy[str], st.SearchStrategy[str], st.SearchStrategy[str]]:
    def ints(inner_int: st.SearchStrategy[str], inner_text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner_int, st.sampled_from(["+", "-", "*", "/", "%"]), inner_int).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(st.sampled_from(["max", "min"]), inner_int, inner_int).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]})"
            ),
            inner_int.map(lambda e: f"abs({e})"),
            inner_text.map(lambda e: f"length({e})"),
            inner_int.map(lambda e: f"length({e})"),
            st.tuples(inner_int, inner_int).map(lambda t: f"instr({t[0]}, {t[1]})"),
            st.tuples(inner_text, inner_text).map(lambda t: f"instr({t[0]}, {t[1]})"),
            inner_text.map(lambda e: f"CAST({e} AS INTEGER)"),
            st.tuples(inner_int, inner_int).map(lambda t: f"ifnull({t[0]}, {t[1]})"),
            st.tuples(inner_int, inner_int, inner_int).map(lambda t: f"iif({t[0]} > {t[1]}, {t[1]}, {t[2]})"),
        )

    def texts(
        inner_int: st.SearchStrategy[str], inner_text: st.SearchStrategy[str]
    ) -> st.SearchStrategy[str]:
        return st.one_of(
            inner_text.map(lambda e: f"upper({e})"),
            inner_text.map(lambda e: f"lower({e})"),
            st.tuples(inner_text, inner_int, inner_int).map(lambda t: f"substr({t[0]}, {t[1]}, {t[2]})"),
            st.tuples(inner_text, inner_text).map(lambda t: f"({t[0]} || {t[1]})"),
            st.tuples(inner_text, inner_text, inner_text).map(lambda t: f"replace({t[0]}, {t[1]}, {t[2]})"),
            inner_text.map(lambda e: f"trim({e})"),
            st.tuples(inner_text, inner_text).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
            st.tuples(FORMAT, DATE, MODIFIER).map(lambda t: f"strftime({t[0]}, {t[1]}, {t[2]})"),
            st.tuples(DATE, MODIFIER, MODIFIER).map(lambda t: f"date({t[0]}, {t[1]}, {t[2]})"),
            st.tuples(DATE, MODIFIER).map(lambda t: f"datetime({t[0]}, {t[1]})"),
            inner_int.map(lambda e: f"printf('%05d', {e})"),
            inner_int.map(lambda e: f"typeof({e})"),
            st.tuples(inner_text, inner_int).map(lambda t: f"printf('%s-%d', {t[0]}, {t[1]})"),
        )

    ints_base = st.one_of(SMALL_INT, st.just("i"))
    texts_base = st.one_of(TEXT, st.just("s"), st.just("k"))
    int_expr = st.recursive(ints_base, lambda inner: ints(inner, texts_base), max_leaves=6)
    text_expr = st.recursive(texts_base, lambda inner: texts(int_expr, inner), max_leaves=6)
    real_expr = st.one_of(
        REAL,
        st.just("r"),
        st.tuples(st.one_of(REAL, st.just("r")), st.sampled_from(["+", "-", "*", "/"]), int_expr).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(st.one_of(REAL, st.just("r")), st.integers(0, 3)).map(lambda t: f"round({t[0]}, {t[1]})"),
        DATE.map(lambda e: f"julianday({e})"),
        text_expr.map(lambda e: f"CAST({e} AS REAL)"),
        int_expr.map(lambda e: f"CAST({e} AS REAL)"),
    )
    return int_expr, text_expr, real_expr


INT_EXPR, TEXT_EXPR, REAL_EXPR = _exprs()
CONDITION = st.one_of(
    st.tuples(INT_EXPR, st.sampled_from(["=", "<>", "<", ">=", "IS", "IS NOT"]), INT_EXPR).map(" ".join),
    st.tuples(TEXT_EXPR, st.sampled_from(["LIKE", "NOT LIKE", "GLOB", "="]), TEXT_EXPR).map(" ".join),
    TEXT_EXPR.map(lambda e: f"{e} IS NULL"),
    st.tuples(REAL_EXPR, st.sampled_from(["=", "<", ">=", "<>"]), st.one_of(REAL_EXPR, INT_EXPR)).map(
        " ".join
    ),
)
PROFILE = settings(
    max_examples=int(__import__("os").environ.get("SKYQL_PARITY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@PROFILE
@given(expr=st.one_of(INT_EXPR, TEXT_EXPR, REAL_EXPR))
def test_generated_expressions_answer_as_sqlite_does(lite, engine, expr: str) -> None:
    assert_same_answer(lite, engine, f"SELECT k, {expr} FROM t ORDER BY k")


@PROFILE
@given(condition=CONDITION)
def test_generated_conditions_keep_the_rows_sqlite_keeps(lite, engine, condition: str) -> None:
    assert_same_answer(lite, engine, f"SELECT k FROM t WHERE {condition} ORDER BY k")


@PROFILE
@given(
    expr=INT_EXPR, aggregate=st.sampled_from(["count(*)", "total(r)", "max(r)", "min(k)", "group_concat(k)"])
)
def test_generated_groups_answer_as_sqlite_does(lite, engine, expr: str, aggregate: str) -> None:
    sql = f"SELECT {expr} AS g, {aggregate}, upper(s) FROM t WHERE k <> 'b' GROUP BY g, s ORDER BY g, s"
    assert_same_answer(lite, engine, sql)


@PROFILE
@given(aggregate=st.sampled_from(["total", "sum", "count", "max", "min", "group_concat"]), expr=INT_EXPR)
def test_generated_aggregates_answer_as_sqlite_does(lite, engine, aggregate: str, expr: str) -> None:
    assert_same_answer(lite, engine, f"SELECT {aggregate}({expr}) FROM t")
