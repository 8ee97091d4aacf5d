"""Registry columns -> DuckDB column types, and SQL identifier quoting."""

from __future__ import annotations

from skyql.registry.model import Column

# Discovery string formats that carry a point in time (RFC 3339), so `createTime > now() - INTERVAL 7 DAY` works.
TIMESTAMP_FORMATS = frozenset({"google-datetime", "date-time"})


def duckdb_type(column: Column) -> str:
    """The DuckDB type of a column, from its StackQL type word and discovery format."""
    word, fmt = column.type, column.format
    if word == "integer":
        # int64/uint64 arrive as JSON strings, int32 as numbers: the JSON reader casts both.
        return "UBIGINT" if fmt == "uint64" else "BIGINT"
    if word == "number":
        return "DOUBLE"
    if word == "boolean":
        return "BOOLEAN"
    if word in ("object", "array"):
        return "JSON"
    if fmt in TIMESTAMP_FORMATS:
        return "TIMESTAMPTZ"
    if fmt == "date":
        return "DATE"
    # google-duration, google-fieldmask, byte and plain strings stay text.
    return "VARCHAR"


def quote(name: str) -> str:
    """A DuckDB identifier, always quoted: column names come from APIs ('end-date', '@type')."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"
