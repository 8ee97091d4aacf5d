"""The PEP 249 cursor: runs statements through the connection's Session and hands out their rows."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from skyql.dbapi.exceptions import InterfaceError, NotSupportedError, ProgrammingError, Warning, dbapi_errors
from skyql.result import Result

if TYPE_CHECKING:
    from skyql.dbapi.connection import Connection

# name, type_code, display_size, internal_size, precision, scale, null_ok
Description = tuple[tuple[str, str, None, None, None, None, bool], ...]


class Cursor:
    """Runs statements and fetches their rows; rows are held in memory once a statement returns."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.arraysize = 1
        self.messages: list[tuple[type[Warning], Warning]] = []
        self._result: Result | None = None
        self._position = 0
        self._rowcount = -1
        self._closed = False
        # A cursor is one thread's at a time: another thread's execute would swap the rows under it.
        self._guard = threading.Lock()
        self._busy: threading.Thread | None = None  # the thread inside execute()
        self._owner: threading.Thread | None = None  # the thread that ran the statement whose rows these are

    # -- attributes --------------------------------------------------------------------------------
    @property
    def description(self) -> Description | None:
        """One 7-tuple per column of the last statement's rows; None before execute or without rows."""
        if self._result is None or not self._result.columns:
            return None
        # Any field of an API object may be absent, so every column may be NULL.
        return tuple(
            (name, type_code, None, None, None, None, True)
            for name, type_code in zip(self._result.columns, self._result.types, strict=True)
        )

    @property
    def rowcount(self) -> int:
        """Rows returned, or rows a mutation changed; -1 before execute."""
        return self._rowcount

    @property
    def rownumber(self) -> int | None:
        """Index of the next row to fetch (PEP 249 extension); None without a result set."""
        return self._position if self._has_rows() else None

    @property
    def lastrowid(self) -> None:
        """Cloud APIs have no row ids (PEP 249 extension): always None."""
        return None

    @property
    def statusmessage(self) -> str | None:
        """What the last mutation or EXEC did, e.g. the long-running operation it started."""
        return self._result.message if self._result is not None else None

    @property
    def closed(self) -> bool:
        return self._closed or self.connection.closed

    # -- statements --------------------------------------------------------------------------------
    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> Cursor:
        """Run one statement; `?` marks are filled from `parameters` in order (provider parameters too)."""
        self._check_open()
        params = _positional(parameters)
        with self._executing():
            self._reset()
            result = self.connection._run(operation, params)
            self._result = result
            self._rowcount = result.rowcount
            self._note_warnings(result)
        return self

    def executemany(self, operation: str, seq_of_parameters: Iterable[Sequence[Any]]) -> Cursor:
        """Run one statement once per parameter sequence; rowcount is the total; no rows are kept."""
        self._check_open()
        batches = [_positional(p) for p in seq_of_parameters]
        with self._executing():
            self._reset()
            self._rowcount = 0
            for params in batches:
                result = self.connection._run(operation, params)
                self._note_warnings(result)
                # Kept up to date so that after a failure it counts the statements that did run.
                self._rowcount += result.rowcount
        return self

    @contextlib.contextmanager
    def _executing(self) -> Iterator[None]:
        """Run a statement as this thread's; refuse if another thread is using the cursor or its rows."""
        me = threading.current_thread()
        with self._guard:
            self._refuse_others(me)
            owner = self._owner
            if owner is not None and owner is not me and owner.is_alive() and self._unread():
                raise ProgrammingError(
                    f"this cursor holds rows of a statement thread {owner.name!r} ran and has not fetched yet:"
                    " give each thread its own cursor (connection.cursor()); threads may share the connection"
                )
            self._busy = self._owner = me
        try:
            yield
        finally:
            with self._guard:
                self._busy = None

    def _refuse_others(self, me: threading.Thread) -> None:
        busy = self._busy
        if busy is not None and busy is not me:
            raise ProgrammingError(
                f"this cursor is running a statement in thread {busy.name!r}: give each thread its own cursor"
                " (connection.cursor()); threads may share the connection"
            )

    def _unread(self) -> bool:
        result = self._result
        return result is not None and bool(result.columns) and self._position < len(result.rows)

    def _note_warnings(self, result: Result) -> None:
        for text in result.warnings:
            warning = Warning(text)
            self.messages.append((Warning, warning))
            self.connection.messages.append((Warning, warning))

    def _reset(self) -> None:
        self._result = None
        self._position = 0
        self._rowcount = -1
        del self.messages[:]

    # -- fetching ----------------------------------------------------------------------------------
    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or None when there are no more."""
        with self._guard:
            rows = self._rows()
            if self._position >= len(rows):
                return None
            self._position += 1
            return rows[self._position - 1]

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        """Up to `size` (default: arraysize) next rows; an empty list when there are no more."""
        with self._guard:
            rows = self._rows()
            size = self.arraysize if size is None else size
            if size < 0:
                raise ProgrammingError(f"fetchmany size must be 0 or more, not {size}")
            out = rows[self._position : self._position + size]
            self._position += len(out)
            return out

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every remaining row."""
        with self._guard:
            rows = self._rows()
            out = rows[self._position :]
            self._position = len(rows)
            return out

    def fetch_arrow(self) -> Any:
        """The remaining rows as a pyarrow Table (needs `skyql[arrow]`); JSON columns are text."""
        from skyql.dbapi.frames import require, to_arrow

        require("pyarrow", "arrow")  # before taking the rows, so a missing package loses none
        rows = self.fetchall()
        assert self._result is not None
        with dbapi_errors():
            return to_arrow(self._result.columns, self._result.types, rows)

    def fetch_df(self) -> Any:
        """The remaining rows as a pandas DataFrame (needs `skyql[pandas]`)."""
        from skyql.dbapi.frames import require, to_pandas

        require("pandas", "pandas")
        require("pyarrow", "pandas")
        rows = self.fetchall()
        assert self._result is not None
        with dbapi_errors():
            return to_pandas(self._result.columns, self._result.types, rows)

    def _has_rows(self) -> bool:
        return self._result is not None and bool(self._result.columns)

    def _rows(self) -> list[tuple[Any, ...]]:
        self._check_open()
        # Rows may be handed to another thread to fetch (it then owns them), not while a statement replaces them.
        me = threading.current_thread()
        self._refuse_others(me)
        self._owner = me
        if self._result is None:
            raise ProgrammingError(
                "no rows to fetch: call execute() with a statement that returns rows first"
            )
        if not self._result.columns:
            raise ProgrammingError("no rows to fetch: the last statement returned no result set")
        return self._result.rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self

    def __next__(self) -> tuple[Any, ...]:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def next(self) -> tuple[Any, ...]:
        """PEP 249 extension: the next row, StopIteration at the end."""
        return self.__next__()

    # -- no-ops PEP 249 asks for -------------------------------------------------------------------
    def setinputsizes(self, sizes: Any) -> None:
        """Accepted and ignored: parameters need no preallocation."""
        self._check_open()

    def setoutputsize(self, size: Any, column: int | None = None) -> None:
        """Accepted and ignored: rows are held in memory whole."""
        self._check_open()

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the rows; the cursor cannot be used afterwards. Closing twice is harmless."""
        self._closed = True
        self._result = None

    def __enter__(self) -> Cursor:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the cursor is closed: open a new one with connection.cursor()")
        self.connection._check_open()


def _positional(parameters: Sequence[Any] | None) -> list[Any] | None:
    """The parameters as a list; qmark style takes a sequence, never a mapping or a bare string."""
    if parameters is None:
        return None
    if isinstance(parameters, Mapping):
        raise NotSupportedError(
            "named parameters are not supported: skyql uses qmark style, e.g. "
            "execute('... WHERE projectsId = ?', ['my-project'])"
        )
    if isinstance(parameters, str | bytes) or not isinstance(parameters, Sequence | Iterable):
        raise ProgrammingError(
            f"parameters must be a list or tuple, not {type(parameters).__name__}: "
            "execute(sql, ['value']) or execute(sql, ('value',))"
        )
    return list(parameters)
