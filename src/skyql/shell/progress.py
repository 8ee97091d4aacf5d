"""Live progress of a long statement on stderr: pages, rows, requests in flight, time.

The fetch layer reports through a plain callable, `on_event(kind, **info)`, set as `session.progress`:

    request   a request is sent (retries included)        info: resource=str
    response  its answer (or failure) arrived             info: resource=str, status=int | None
    page      a page's rows were loaded                   info: resource=str, rows=int
    retry     a request will be retried after a wait      info: resource=str, status=int | None, wait=float

Unknown kinds and extra keywords are ignored, so the fetch layer can report more without breaking the shell.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from skyql.terminal import printable


class ProgressHook(Protocol):
    def __call__(self, kind: str, /, **info: Any) -> None: ...


class ProgressLine:
    """Counts events and redraws one status line on a terminal; silent for quick statements."""

    def __init__(
        self,
        stream: TextIO,
        *,
        delay: float = 0.5,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        width: Callable[[], int] = lambda: shutil.get_terminal_size().columns,
    ) -> None:
        self.stream = stream
        self.width = width
        self.delay = delay  # statements faster than this never show a line
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = 0  # width of the line on screen
        self.reset()

    def reset(self) -> None:
        self.started = self.clock()
        self.pages = self.rows = self.requests = self.responses = self.retries = 0
        self.resources: dict[str, None] = {}

    def __call__(self, kind: str, /, **info: Any) -> None:
        with self._lock:
            if "resource" in info:
                self.resources.setdefault(str(info["resource"]), None)
            if kind == "request":
                self.requests += 1
            elif kind == "response":
                self.responses += 1
            elif kind == "page":
                self.pages += 1
                self.rows += int(info.get("rows") or 0)
            elif kind == "retry":
                self.retries += 1

    def text(self) -> str:
        """The status line as it is now."""
        with self._lock:
            parts = []
            if self.resources:
                names = list(self.resources)
                parts.append(names[0] + (f" (+{len(names) - 1})" if len(names) > 1 else ""))
            if self.requests or self.pages:
                parts.append(f"{self.pages:,} page{'s' if self.pages != 1 else ''}")
                parts.append(f"{self.rows:,} row{'s' if self.rows != 1 else ''}")
                parts.append(f"{max(self.requests - self.responses, 0)} in flight")
            else:
                parts.append("running")
            if self.retries:
                parts.append(f"{self.retries} retried")
            parts.append(f"{self.clock() - self.started:.1f} s")
        return " · ".join(parts) + "  (Ctrl-C cancels)"

    # -- drawing -----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin a statement: reset the counts and draw on the terminal while it runs."""
        self.reset()
        if not _isatty(self.stream):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="skyql-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End a statement: stop drawing and erase the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._drawn:
            self._write("\r\x1b[K")
            self._drawn = 0

    def __enter__(self) -> ProgressLine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        while not self._stop.is_set():
            # A wrapped line could not be erased with \r: keep it within the terminal.
            line = printable(self.text())[: max(self.width() - 1, 10)]
            self._write("\r" + line + "\x1b[K")
            self._drawn = len(line)
            self._stop.wait(self.interval)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken terminal must not break the statement
            pass


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
