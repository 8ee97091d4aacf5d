"""Batch inserts on one background thread, so DuckDB parses a batch while the next pages download."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import duckdb

from skyql.engine.loader import Batch, TableLoader

# Batches queued or running at once: bounds the memory held by pages not yet in a table.
MAX_IN_FLIGHT = 2


class Inserter:
    """Runs `TableLoader.insert` in submission order on a cursor of the engine's connection."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skyql-load")
        self._queue: deque[tuple[str, Future[int]]] = deque()

    def submit(self, loader: TableLoader, batch: Batch) -> int:
        """Queue a batch (waiting while MAX_IN_FLIGHT are queued); returns rows of batches finished so far."""
        added = 0
        while len(self._queue) >= MAX_IN_FLIGHT:
            added += self._queue.popleft()[1].result()
        self._queue.append((loader.spec.key, self._pool.submit(loader.insert, self._conn, batch)))
        return added + self.reap()

    def reap(self) -> int:
        """Rows of the batches that have finished; re-raises the error of a batch that failed."""
        added = 0
        while self._queue and self._queue[0][1].done():
            added += self._queue.popleft()[1].result()
        return added

    def drain(self, forget: str | None = None, quiet: bool = False) -> int:
        """Wait for every queued batch; returns their rows.

        The first error is raised once all have finished, unless it is table `forget`'s or `quiet` is set.
        """
        added = 0
        error: BaseException | None = None
        while self._queue:
            key, future = self._queue.popleft()
            try:
                added += future.result()
            except Exception as err:
                if error is None and key != forget and not quiet:
                    error = err
        if error is not None:
            raise error
        return added

    def close(self) -> None:
        self.drain(quiet=True)
        self._pool.shutdown(wait=True)
        self._conn.close()
