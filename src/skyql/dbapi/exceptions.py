"""PEP 249 exceptions, and the one place skyql's errors are translated into them.

    Warning                     (a plain Exception, as PEP 249 asks)
    Error                       also a skyql.SkyqlError: `except skyql.SkyqlError` catches every DB-API error
    ├── InterfaceError          how skyql is set up or used: ConfigError (auth, endpoints, options), a closed
    │                           connection or cursor, a missing optional package (pyarrow, pandas)
    └── DatabaseError
        ├── ProgrammingError    the statement: SqlError, NotFoundError, ParameterError; fetching without rows
        ├── OperationalError    the API or the network answered with an error: ApiError
        ├── IntegrityError      the API says the object already exists (ALREADY_EXISTS / HTTP 409 on create)
        ├── DataError           a value the engine cannot process (DuckDB's own DataError)
        ├── InternalError       a bug in skyql; the original exception is the __cause__
        └── NotSupportedError   rollback(), autocommit off, named parameters

A translated error has the same message as the skyql error, which stays reachable as `__cause__`
(e.g. `err.__cause__.http_status` on an OperationalError).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from skyql.errors import ApiError, ConfigError, NotFoundError, ParameterError, SkyqlError, SqlError


class Warning(Exception):  # noqa: A001 - the name PEP 249 gives it
    """An important warning; skyql reports warnings in `Cursor.messages` rather than raising this."""


class Error(SkyqlError):
    """Base of every DB-API error."""


class InterfaceError(Error):
    """The interface is misused or misconfigured, rather than the statement being wrong."""


class DatabaseError(Error):
    """An error running a statement."""


class DataError(DatabaseError):
    """A value cannot be processed."""


class OperationalError(DatabaseError):
    """The API or the network failed; not necessarily the caller's fault."""


class IntegrityError(DatabaseError):
    """The API refused a write because the object already exists."""


class InternalError(DatabaseError):
    """An unexpected failure inside skyql."""


class ProgrammingError(DatabaseError):
    """The statement is wrong: bad SQL, unknown name, missing or surplus parameters."""


class NotSupportedError(DatabaseError):
    """The operation has no meaning for cloud APIs (e.g. rollback)."""


_BY_SKYQL_CLASS: tuple[tuple[type[SkyqlError], type[Error]], ...] = (
    (SqlError, ProgrammingError),
    (NotFoundError, ProgrammingError),
    (ParameterError, ProgrammingError),
    (ConfigError, InterfaceError),
    (ApiError, OperationalError),
)

# Other libraries' PEP 249 classes (DuckDB's), recognised by name so that none of them need importing.
_BY_PEP_NAME: dict[str, type[Error]] = {
    cls.__name__: cls
    for cls in (
        InterfaceError,
        DataError,
        OperationalError,
        IntegrityError,
        InternalError,
        ProgrammingError,
        NotSupportedError,
        DatabaseError,
    )
}


def dbapi_class(err: BaseException) -> type[Error]:
    """The DB-API class that `err` maps to."""
    if isinstance(err, ApiError) and (
        err.status == "ALREADY_EXISTS" or (err.status is None and err.http_status == 409)
    ):
        return IntegrityError
    for skyql_class, dbapi in _BY_SKYQL_CLASS:
        if isinstance(err, skyql_class):
            return dbapi
    if isinstance(err, SkyqlError):
        return DatabaseError
    for base in type(err).__mro__:
        if base.__name__ in _BY_PEP_NAME:
            return _BY_PEP_NAME[base.__name__]
    return InternalError


def translate(err: Exception) -> Error:
    """`err` as a DB-API error with the same message (a DB-API error is returned as it is)."""
    if isinstance(err, Error):
        return err
    cls = dbapi_class(err)
    if cls is InternalError and not isinstance(err, SkyqlError):
        message = f"internal error in skyql ({type(err).__name__}: {err}); please report it"
    else:
        message = str(err)
    mapped = cls(message)
    mapped.__cause__ = err
    return mapped


@contextmanager
def dbapi_errors() -> Iterator[None]:
    """Re-raise anything but a DB-API error (or Ctrl-C) as its DB-API class, chained to the original."""
    try:
        yield
    except Error:
        raise
    except Exception as err:
        raise translate(err) from err
