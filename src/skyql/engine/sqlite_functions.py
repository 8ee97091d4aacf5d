"""SQLite's own scalar functions where DuckDB has no faithful twin, answered by SQLite itself.

SQLite's date and time functions (every format of strftime, every modifier: 'unixepoch', '+1 day',
'start of month', 'weekday 0', 'localtime', ...) and its printf are intricate; rather than imitate them, the
rewrite (skyql.sql.sqlite) calls `sqlite_text(name, [args])` / `sqlite_real` / `sqlite_int`, and these ask
Python's own sqlite3 for the answer. Arguments arrive as text (SQLite reads numeric text as the number in
these functions), so one UDF per result type serves every arity.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import duckdb
from duckdb.func import FunctionNullHandling
from duckdb.sqltypes import BIGINT, BOOLEAN, DOUBLE, VARCHAR

# The only functions the UDFs call: the rewrite names them, never a user string.
FUNCTIONS = frozenset({"date", "time", "datetime", "julianday", "unixepoch", "strftime", "printf", "format"})
# DuckDB writes a UTC timestamp as '2024-05-05 08:30:51.5+00', which SQLite does not read: drop the zone.
_DUCKDB_UTC = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\+00\Z")


class _Sqlite:
    """One private in-memory SQLite connection per thread (DuckDB may call UDFs from its workers)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._sql: dict[tuple[str, int], str] = {}

    def call(self, name: str, args: list[str | None] | None) -> Any:
        if name not in FUNCTIONS:
            raise ValueError(f"not a SQLite function skyql calls: {name}")
        values = [_from_duckdb(a) for a in args or []]
        key = (name, len(values))
        sql = self._sql.get(key)
        if sql is None:
            sql = self._sql[key] = f"SELECT {name}({', '.join('?' * len(values))})"
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(":memory:", check_same_thread=False)
        return conn.execute(sql, values).fetchone()[0]


def _from_duckdb(value: str | None) -> str | None:
    if value is None:
        return None
    match = _DUCKDB_UTC.match(value)
    return match.group(1) if match else value


def json_equal(a: str | None, b: str | None) -> bool:
    """StackQL's json_equal: the same JSON value, objects whatever their key order; NULL or bad JSON is an error."""
    if a is None or b is None:
        raise ValueError("json_equal() needs two JSON texts, not NULL")
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        raise ValueError("json_equal() could not parse its arguments as JSON") from None


# The names the rewrite calls them by: the engine registers them when a statement's SQL names one.
NAMES = ("sqlite_text", "sqlite_real", "sqlite_int", "sqlite_json_equal")


def register(conn: duckdb.DuckDBPyConnection) -> None:
    """Define sqlite_text, sqlite_real and sqlite_int(name, args VARCHAR[]), and sqlite_json_equal."""
    lite = _Sqlite()
    conn.create_function(
        "sqlite_json_equal",
        json_equal,
        [VARCHAR, VARCHAR],
        BOOLEAN,
        null_handling=FunctionNullHandling.SPECIAL,
    )

    def typed(cast: Callable[[Any], Any]) -> Callable[[str, list[str | None]], Any]:
        def fn(name: str, args: list[str | None]) -> Any:
            value = lite.call(name, args)
            return None if value is None else cast(value)

        return fn

    for udf, cast, result in (
        ("sqlite_text", str, VARCHAR),
        ("sqlite_real", float, DOUBLE),
        ("sqlite_int", int, BIGINT),
    ):
        conn.create_function(
            udf,
            typed(cast),
            [VARCHAR, duckdb.list_type(VARCHAR)],
            result,
            # NULL arguments mean something to printf ('%s' of NULL is ''); SQLite decides.
            null_handling=FunctionNullHandling.SPECIAL,
        )
