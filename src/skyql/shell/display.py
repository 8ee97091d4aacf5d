"""Keep results readable on a terminal: tables clipped to its width, long output through a pager."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
from typing import TextIO

from skyql.cli.output import render
from skyql.result import Result

DEFAULT_PAGER = "less -SRFX"
MIN_CELL = 10  # narrower cells say nothing; past this, the pager scrolls sideways (less -S)


def fit_table(result: Result, width: int) -> str:
    """The table layout of `result`, its cells clipped so each line fits in `width` columns when possible."""
    text = render(result, "table")
    if not text:
        return text
    rule = text.split("\n", 1)[0]
    if len(rule) <= width:
        return text
    # The top rule is |---|---|: its dash runs are the natural column widths plus two spaces.
    widths = [len(run) - 2 for run in rule.strip("|").split("|")]
    limit = cell_limit(widths, width - (3 * len(widths) + 1))
    return render(result, "table", max_width=limit)


def cell_limit(widths: list[int], budget: int) -> int:
    """The largest cell width m (>= MIN_CELL) with sum(min(w, m)) <= budget: wide columns give way first."""
    lo, hi = MIN_CELL, max(widths)
    if sum(min(w, lo) for w in widths) > budget:
        return lo
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(w, mid) for w in widths) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def pager_command(env: dict[str, str] | os._Environ[str] = os.environ) -> list[str] | None:
    """$PAGER (or less -SRFX) as argv, or None when it is not installed."""
    argv = shlex.split(env.get("PAGER") or DEFAULT_PAGER)
    if not argv or shutil.which(argv[0]) is None:
        return None
    return argv


def show(text: str, out: TextIO, *, page: bool, height: int) -> None:
    """Write `text`; through the pager when `page` and it is taller than the terminal."""
    argv = pager_command() if page and text.count("\n") >= height - 1 else None
    if argv is None:
        out.write(text)
        out.flush()
        return
    out.flush()
    env = dict(os.environ)
    env.setdefault("LESS", "SRFX")  # a $PAGER=less without flags would still wrap and clear the screen
    # The pager owns Ctrl-C while it runs (less uses it to stop a search); the shell must not die of it.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        subprocess.run(argv, input=text, text=True, env=env, check=False)
    except OSError:
        out.write(text)
        out.flush()
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
