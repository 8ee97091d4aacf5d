"""skyql: SQL over Google Cloud APIs, and a PEP 249 (DB-API 2.0) module: `skyql.connect(...)`.

The PEP's module names are here as the same objects as in `skyql.dbapi`. `skyql.Error` (the DB-API base, what
`connect()` and its cursors raise) is a subclass of `skyql.SkyqlError` (what the rest of skyql raises).
"""

from typing import Any

# skyql.dbapi imports its connection and cursor lazily, so none of this pulls in the query stack.
from skyql.dbapi import apilevel, connect, paramstyle, threadsafety
from skyql.dbapi.exceptions import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from skyql.dbapi.types import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    DBAPITypeObject,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)
from skyql.errors import ApiError, ConfigError, NotFoundError, ParameterError, SkyqlError, SqlError

__version__ = "0.1.0"


__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "ApiError",
    "Binary",
    "ConfigError",
    "Connection",
    "Cursor",
    "DBAPITypeObject",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotFoundError",
    "NotSupportedError",
    "OperationalError",
    "ParameterError",
    "ProgrammingError",
    "SkyqlError",
    "SqlError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "__version__",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]


def __getattr__(name: str) -> Any:
    # Connection and Cursor pull in the query stack; import them only when asked for.
    if name in ("Connection", "Cursor"):
        import skyql.dbapi

        return getattr(skyql.dbapi, name)
    raise AttributeError(f"module 'skyql' has no attribute {name!r}")
