"""The DuckDB side of skyql: typed tables filled from raw API pages, and the local SQL run over them."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from skyql.engine import sqlite_functions
from skyql.engine.inserter import Inserter
from skyql.engine.loader import TableLoader, TableSpec
from skyql.engine.sqlite_values import typed_result, visible_width
from skyql.engine.types import quote
from skyql.errors import ConfigError, NotFoundError, SkyqlError, SqlError, did_you_mean
from skyql.registry.model import Column
from skyql.result import Result
from skyql.sql import sqlite, sqlite_json

if TYPE_CHECKING:
    import pyarrow

_TIMESTAMPTZ = "TIMESTAMP WITH TIME ZONE"
_SAFE_SETTINGS = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)


class Engine:
    """One in-memory DuckDB connection: `create_table`, `load_page`..., then `query`."""

    def __init__(self, safe: bool = False) -> None:
        self.safe = safe
        self._conn = duckdb.connect(":memory:")
        self._loaders: dict[str, TableLoader] = {}
        # Google timestamps are UTC; results and now() use UTC whatever the machine's zone.
        self._conn.execute("SET TimeZone = 'UTC'")
        # The local SQL is SQLite's (StackQL's engine): its arithmetic, functions and JSON semantics.
        for statement in (*sqlite.SETTINGS, *sqlite.MACROS, *sqlite_json.MACROS):
            self._conn.execute(statement)
        for setting in sqlite.SETTINGS_IF_KNOWN:
            with contextlib.suppress(duckdb.CatalogException):
                self._conn.execute(setting)
        # Python functions (SQLite's date functions, json_tree's depth check) are registered by the first
        # statement that calls one: registering any makes DuckDB import numpy, ~0.1 s of a first query.
        self._udfs = False
        self._tree = False
        self._inserter = Inserter(self._conn.cursor())
        if safe:
            for setting in _SAFE_SETTINGS:
                self._conn.execute(setting)

    # -- loading ---------------------------------------------------------------------------------

    def create_table(self, key: str, columns: Sequence[Column], params: Sequence[str]) -> None:
        """(Re)create table `key`: the row columns typed from the schema, then the parameter columns."""
        if key in self._loaders:
            self.drop(key)
        spec = TableSpec.build(key, columns, params)
        self._conn.execute(spec.create_sql())
        self._loaders[key] = TableLoader(spec)

    def load_page(
        self,
        key: str,
        body: bytes,
        object_key: str | None,
        partition: Mapping[str, Any],
        *,
        status: int | None = None,
        number: int | None = None,
    ) -> int:
        """Add the rows of one response page (`object_key` '$.jobs', or None: the body is one row).

        Pages are buffered and inserted in batches on a background thread: returns the rows of batches
        that finished meanwhile; `flush(key)` waits for the rest. A page skyql cannot read raises
        ApiError (naming `status` and page `number` when given), here or from a later call.
        """
        loader = self._loader(key)
        batches = loader.add(body, object_key, partition, status, number)
        added = sum(self._inserter.submit(loader, batch) for batch in batches)
        return added + self._inserter.reap()

    def load_rows(self, key: str, rows: Sequence[Mapping[str, Any]], partition: Mapping[str, Any]) -> int:
        """Add rows already decoded (small results such as EXEC responses), typed like pages."""
        body = json.dumps({"rows": list(rows)}, default=str).encode()
        return self.load_page(key, body, "$.rows", partition) + self.flush(key)

    def flush(self, key: str | None = None) -> int:
        """Insert every buffered page (of `key`, or of all tables) and wait; returns the rows inserted."""
        added = 0
        for k in [key] if key is not None else list(self._loaders):
            loader = self._loader(k)
            batch = loader.take()
            if batch is not None:
                added += self._inserter.submit(loader, batch)
        return added + self._inserter.drain()

    def distinct(self, key: str, column: str, where: str | None = None) -> list[Any]:
        """The distinct non-null values of one column, sorted (parameters taken from a join).

        `where`: a DuckDB condition on the table's rows; values of rows failing it are left out.
        """
        spec = self._loader(key).spec
        self.flush(key)
        names = [n for n, _ in spec.columns] + list(spec.params)
        match = next((n for n in names if n.lower() == column.lower()), None)
        if match is None:
            raise NotFoundError(f"{key} has no column {column}{did_you_mean(column, names)}")
        col = quote(match)
        sql = f"SELECT DISTINCT {col} FROM {quote(key)} WHERE {col} IS NOT NULL"
        if where:
            sql += f" AND ({where})"
            self._functions_for(where)
        return [row[0] for row in self._run(lambda: self._conn.execute(sql + " ORDER BY 1").fetchall())]

    def drop(self, key: str) -> None:
        """Forget table `key` and its buffered pages (errors of its pending batches are dropped too)."""
        self._inserter.drain(forget=key)
        self._loaders.pop(key, None)
        self._conn.execute(f"DROP TABLE IF EXISTS {quote(key)}")

    def interrupt(self) -> None:
        """Stop the query running on this engine, from another thread; it raises SqlError."""
        self._conn.interrupt()

    def close(self) -> None:
        self._loaders.clear()
        self._inserter.close()
        self._conn.close()

    # -- querying --------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Result:
        """Run local SQL (DuckDB dialect) after flushing every table; DuckDB errors become SqlError."""
        relation = self._relation(sql, params)
        if relation is None:
            return Result(columns=[], types=[], rows=[])
        columns = list(relation.columns)
        types = [str(t) for t in relation.types]
        zoned = [i for i, t in enumerate(types) if t == _TIMESTAMPTZ]
        if zoned:
            # DuckDB needs pytz to return aware datetimes; read UTC wall time and attach the zone here.
            exprs = [f"timezone('UTC', #{i + 1})" if i in zoned else f"#{i + 1}" for i in range(len(types))]
            relation = relation.select(", ".join(exprs))
        rows = self._run(relation.fetchall)
        if zoned:
            rows = [_with_utc(row, zoned) for row in rows]
        columns, types, rows = typed_result(columns, types, rows)
        return Result(columns=columns, types=types, rows=rows)

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pyarrow.Table:
        """Run local SQL and return a pyarrow Table (needs the `arrow` extra)."""
        if importlib.util.find_spec("pyarrow") is None:
            raise ConfigError("Arrow results need pyarrow: pip install 'skyql[arrow]'")
        relation = self._relation(sql, params)
        if relation is None:
            import pyarrow

            return pyarrow.table({})
        width = visible_width(relation.columns)
        if width < len(relation.columns):
            # Arrow columns have one type: JSON values stay text here, without their hidden type columns.
            relation = relation.select(", ".join(f"#{i + 1}" for i in range(width)))
        return self._run(relation.to_arrow_table)

    def _relation(self, sql: str, params: Sequence[Any] | None) -> duckdb.DuckDBPyRelation | None:
        self.flush()
        self._functions_for(sql)
        return self._run(lambda: self._conn.sql(sql, params=list(params) if params else None))

    def _functions_for(self, sql: str) -> None:
        """Register the Python functions `sql` calls that are not registered yet."""
        low = sql.lower()
        if not self._udfs and any(name in low for name in sqlite_functions.NAMES):
            sqlite_functions.register(self._conn)
            self._udfs = True
        if not self._tree and sqlite_json.TREE_MACRO_NAME in low:
            sqlite_json.install_tree(self._conn)
            self._tree = True

    def _run(self, fn: Any) -> Any:
        try:
            return fn()
        except duckdb.Error as err:
            raise _sql_error(err, self.safe) from None

    def _loader(self, key: str) -> TableLoader:
        try:
            return self._loaders[key]
        except KeyError:
            raise KeyError(f"no table {key!r}: call create_table first") from None


def _with_utc(row: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in positions:
        if isinstance(values[i], dt.datetime):
            values[i] = values[i].replace(tzinfo=dt.UTC)
    return tuple(values)


# Safe mode turns off DuckDB's `FROM 'file.csv'`, which then reports the path as an unknown table.
_PATH_AS_TABLE = re.compile(r"Table with name (\S*[/\\.]\S*) does not exist")


def _sql_error(err: duckdb.Error, safe: bool = False) -> SkyqlError:
    """DuckDB's message in one line: the error and its hints (candidate columns), without the SQL excerpt."""
    text = str(err)
    head = text.split("\nLINE ", 1)[0]
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    kept = lines[:1] + [ln for ln in lines[1:] if ln.startswith(("Candidate bindings", "Did you mean"))]
    message = " ".join(kept) or type(err).__name__
    if isinstance(err, duckdb.PermissionException):
        return SqlError(f"file access is disabled in safe mode: {message}")
    path = _PATH_AS_TABLE.search(message) if safe and isinstance(err, duckdb.CatalogException) else None
    if path:
        return SqlError(f"file access is disabled in safe mode: {path.group(1)} cannot be read as a table")
    if "pytz" in message:
        message = "timestamps with time zone inside lists or structs cannot be returned; cast them to VARCHAR"
    return SqlError(message)
