"""skyql's PEP 249 (DB-API 2.0) module: `skyql.dbapi.connect(...)`, or `skyql.connect(...)`.

    conn = skyql.connect(auth={"google": {"type": "service_account", "credentialsfilepath": "key.json"}})
    cur = conn.cursor()
    cur.execute("SELECT jobId, state FROM google.ml.jobs WHERE projectsId = ?", ["my-project"])
    cur.fetchall()

Statements take effect when they run (commit() is a no-op, rollback() raises NotSupportedError).
threadsafety is 2: threads may share a connection, whose statements then run one at a time; a cursor must
stay in one thread. The SQLAlchemy dialect (`skyql://`) is in skyql.dbapi.sqlalchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

apilevel = "2.0"
threadsafety = 2
paramstyle = "qmark"

if TYPE_CHECKING:
    from skyql.dbapi.connection import Connection
    from skyql.dbapi.cursor import Cursor

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
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
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]


def connect(*args: Any, **kwargs: Any) -> Connection:
    """Open a PEP 249 connection (`skyql.connect` is this function); the options are connection.connect's."""
    from skyql.dbapi.connection import connect as _connect

    return _connect(*args, **kwargs)


def __getattr__(name: str) -> Any:
    # The connection and cursor modules pull in the query stack: `import skyql` (and its exception
    # classes) must not pay for that.
    if name == "Connection":
        from skyql.dbapi.connection import Connection

        return Connection
    if name == "Cursor":
        from skyql.dbapi.cursor import Cursor

        return Cursor
    raise AttributeError(f"module 'skyql.dbapi' has no attribute {name!r}")
