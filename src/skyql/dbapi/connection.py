"""The PEP 249 connection: one skyql Session, its statements serialised by a lock."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from skyql.dbapi import exceptions as exc
from skyql.dbapi.cursor import Cursor
from skyql.dbapi.exceptions import InterfaceError, NotSupportedError, Warning, dbapi_errors
from skyql.errors import ConfigError, did_you_mean
from skyql.result import Result
from skyql.session import Options, Session, build_options

T = TypeVar("T")

# connect() keywords that set an Options field; auth, endpoints, concurrency and safe are named parameters.
OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(Options)) - {
    "auth",
    "endpoints",
    "concurrency",
    "safe",
}


def connect(
    auth: Mapping[str, Any] | str | None = None,
    endpoints: Mapping[str, str] | None = None,
    *,
    concurrency: int = 16,
    safe: bool = False,
    emulator: bool = False,
    **options: Any,
) -> Connection:
    """Open a connection.

    `auth` is StackQL's auth JSON (a dict or its text), `endpoints` maps a provider to a base URL
    ({"google": "http://127.0.0.1:8089"}); unset, they come from SKYQL_AUTH and SKYQL_ENDPOINT_GOOGLE.
    `emulator=True` starts skyql's local Google API emulator and points the connection at it.
    Other keywords set session options: retries, timeout, page_size, dryrun, insecure, allow_partial, pushdown.
    """
    with dbapi_errors():
        return Connection(
            Session(_options(auth, endpoints, concurrency, safe, emulator, options), emulator=emulator)
        )


def _options(
    auth: Mapping[str, Any] | str | None,
    endpoints: Mapping[str, str] | None,
    concurrency: int,
    safe: bool,
    emulator: bool,
    options: dict[str, Any],
) -> Options:
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        name = unknown[0]
        raise ConfigError(
            f"unknown connect() option {name!r}{did_you_mean(name, OPTION_NAMES)}; "
            f"the options are auth, endpoints, concurrency, safe, emulator, {', '.join(sorted(OPTION_NAMES))}"
        )
    # A query string from an application must not be able to rewrite the installed registry.
    options.setdefault("allow_registry_pull", False)
    return build_options(auth, endpoints, emulator=emulator, concurrency=concurrency, safe=safe, **options)


class Connection:
    """A DB-API connection. Every statement is applied when it runs: commit() is a no-op, rollback() fails."""

    # PEP 249 extension: the exception classes, reachable from the connection.
    Warning = Warning
    Error = exc.Error
    InterfaceError = exc.InterfaceError
    DatabaseError = exc.DatabaseError
    DataError = exc.DataError
    OperationalError = exc.OperationalError
    IntegrityError = exc.IntegrityError
    InternalError = exc.InternalError
    ProgrammingError = exc.ProgrammingError
    NotSupportedError = exc.NotSupportedError

    def __init__(self, session: Session) -> None:
        self._session = session
        # A Session (its DuckDB connection, its event loop per statement) runs one statement at a time.
        self._lock = threading.RLock()
        self._closed = False
        self.messages: list[tuple[type[Warning], Warning]] = []

    @property
    def session(self) -> Session:
        """The skyql Session behind this connection (registry, options, engine)."""
        self._check_open()
        return self._session

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def autocommit(self) -> bool:
        """Always True: each statement is sent to the API as it runs."""
        return True

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        if not value:
            raise NotSupportedError(
                "autocommit cannot be turned off: API calls take effect when they are made"
            )

    def cursor(self) -> Cursor:
        """A new cursor on this connection."""
        self._check_open()
        return Cursor(self)

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> Cursor:
        """Shortcut: a new cursor that has run `operation`."""
        return self.cursor().execute(operation, parameters)

    def commit(self) -> None:
        """Nothing to do: every statement was applied when it ran."""
        self._check_open()

    def rollback(self) -> None:
        """Always fails: API calls cannot be undone."""
        self._check_open()
        raise NotSupportedError(
            "rollback is not possible: every statement was applied to the API when it ran"
        )

    def close(self) -> None:
        """Close the session (and its emulator, if it started one); closing twice is harmless."""
        if self._closed:
            return
        # A statement running in another thread holds the lock: stop its requests rather than wait for them.
        self._session.cancel()
        with self._lock:
            self._closed = True
            with dbapi_errors():
                self._session.close()

    def __enter__(self) -> Connection:
        self._check_open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Nothing to commit or roll back: leaving the block only closes the connection.
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the connection is closed: open a new one with skyql.connect()")

    def _run(self, operation: str, parameters: list[Any] | None) -> Result:
        if not isinstance(operation, str):
            raise exc.ProgrammingError(
                f"the statement must be a string of SQL, not {type(operation).__name__}"
            )
        with self._lock, dbapi_errors():
            self._check_open()
            return self._session.execute(operation, parameters)
