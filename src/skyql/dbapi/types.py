"""PEP 249 type objects and constructors.

A cursor's `description` carries DuckDB type names ('VARCHAR', 'BIGINT', 'TIMESTAMP WITH TIME ZONE',
'DECIMAL(18,3)', 'VARCHAR[]', ...) as type codes; each compares equal to exactly one type object here.
"""

from __future__ import annotations

import datetime
import time

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> datetime.date:  # noqa: N802 - the name PEP 249 gives it
    """The local date `ticks` seconds after the epoch."""
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:  # noqa: N802
    """The local time of day `ticks` seconds after the epoch."""
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:  # noqa: N802
    """The local date and time `ticks` seconds after the epoch."""
    return Timestamp(*time.localtime(ticks)[:6])


# Nested values (lists, structs, maps) come back as Python lists and dicts; like JSON they are "text-like"
# documents, and PEP 249 wants every type code to match some type object.
_NESTED = frozenset({"LIST", "ARRAY", "STRUCT", "MAP", "UNION"})


def base_type(type_name: str) -> str:
    """'DECIMAL(18,3)' -> 'DECIMAL', 'VARCHAR[]' -> 'LIST', 'timestamptz' -> 'TIMESTAMPTZ'."""
    name = type_name.strip().strip('"').upper()
    if name.endswith("]"):
        return "LIST"
    return name.split("(", 1)[0].strip()


class DBAPITypeObject:
    """A PEP 249 type object: equal to every DuckDB type name of its kind."""

    def __init__(self, name: str, *type_names: str) -> None:
        self.name = name
        self.type_names = frozenset(type_names)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return base_type(other) in self.type_names
        if isinstance(other, DBAPITypeObject):
            return self is other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<DBAPITypeObject {self.name}: {', '.join(sorted(self.type_names))}>"


# VARIANT: a column of SQLite JSON values mixing numbers and text (arrow and pandas get it as text).
STRING = DBAPITypeObject(
    "STRING", "VARCHAR", "CHAR", "BPCHAR", "TEXT", "STRING", "JSON", "UUID", "ENUM", "VARIANT", *_NESTED
)
BINARY = DBAPITypeObject("BINARY", "BLOB", "BYTEA", "BINARY", "VARBINARY", "BIT", "BITSTRING")
NUMBER = DBAPITypeObject(
    "NUMBER",
    "BOOLEAN",
    "BOOL",
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "INT",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "BIGNUM",
    "FLOAT",
    "REAL",
    "DOUBLE",
    "DECIMAL",
    "NUMERIC",
)
DATETIME = DBAPITypeObject(
    "DATETIME",
    "DATE",
    "TIME",
    "TIME_NS",
    "TIMETZ",
    "TIME WITH TIME ZONE",
    "TIMESTAMP",
    "DATETIME",
    "TIMESTAMPTZ",
    "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "INTERVAL",
)
# Cloud APIs have no row ids: no DuckDB type is a ROWID.
ROWID = DBAPITypeObject("ROWID")

TYPE_OBJECTS = (STRING, BINARY, NUMBER, DATETIME, ROWID)
