"""A session's event loop and the wire on it, kept between statements and closed exactly once.

Statements run one after another on one asyncio.Runner, so the aiohttp wire (and its keep-alive
connections, TLS handshakes done) serves every statement of a shell, a script or a DB-API connection.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def off_running_loop(call: Callable[[], T]) -> T:
    """`call()` here, or on a worker thread when this thread runs an event loop (Jupyter, an async app):
    a loop cannot be run from inside another."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="skyql") as pool:
        return pool.submit(call).result()


class StatementLoop:
    """Runs coroutines on one loop; `close()` is for Session.close() and for a session left unclosed."""

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None
        self._wire: Any = None
        self._lock = threading.Lock()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run `coro` to completion (Ctrl-C cancels it, as asyncio.run does), from any thread."""
        with self._lock:
            if self._runner is None:
                self._runner = asyncio.Runner()
            runner = self._runner
        return off_running_loop(lambda: runner.run(coro))

    def wire(self) -> Any:
        """The loop's wire when called on it, else None: another loop's fetcher opens a wire of its own."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return None
        runner = self._runner
        if runner is None or running is not runner.get_loop():
            return None
        if self._wire is None:
            from skyql.fetch.wire import AiohttpWire

            self._wire = AiohttpWire()
        return self._wire

    def close(self) -> None:
        """Close the wire's connections and the loop; from any thread, even one running another loop."""
        with self._lock:
            runner, wire = self._runner, self._wire
            self._runner = self._wire = None
        if runner is None:
            return

        def close() -> None:
            try:
                if wire is not None:
                    runner.run(wire.aclose())
            finally:
                runner.close()

        off_running_loop(close)
