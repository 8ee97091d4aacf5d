"""`skyql shell`: time to the first prompt, and completion latency.

Run by hand: python bench/bench_shell.py [runs]. Measured in one run, medians of `runs` (default 7):
  start        spawn `python -m skyql.cli.main shell` on a pseudo-terminal, until `skyql>` is drawn
  baseline     `python -c "import prompt_toolkit"` (the least any prompt_toolkit shell pays), and `python -c pass`
  breakdown    the import of skyql.session (which `skyql shell` builds before the shell starts) and of the
               shell's own modules, each in a fresh interpreter
  completion   suggest() for `google.`, `google.aiplatform.`, and the columns of google.ml.jobs and of
               google.compute.instances (the biggest service), cold (a fresh Registry: index and service file
               read and parsed) and warm (cached)
Targets: start at most 2x the prompt_toolkit import; every completion under 50 ms.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

CASES = [
    ("google.", "SELECT * FROM google."),
    ("google.aiplatform.", "SELECT * FROM google.aiplatform."),
    ("columns of google.ml.jobs", "SELECT * FROM google.ml.jobs WHERE "),
    ("columns of google.compute.instances", "SELECT * FROM google.compute.instances WHERE "),
]


def time_to_prompt(state_dir: str) -> float:
    env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", XDG_STATE_HOME=state_dir)
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes the shell
        os.execve(sys.executable, [sys.executable, "-m", "skyql.cli.main", "shell"], env)
    seen = b""
    try:
        while b"skyql>" not in seen:
            if time.perf_counter() - started > 30:
                raise RuntimeError(f"no prompt after 30 s: {seen[-500:]!r}")
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                seen += os.read(fd, 65536)
        elapsed = time.perf_counter() - started
        os.write(fd, b"\x04")
        _drain_until_exit(pid, fd)
    finally:
        os.close(fd)
    return elapsed


def _drain_until_exit(pid: int, fd: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
        if select.select([fd], [], [], 0.05)[0]:
            with contextlib.suppress(OSError):  # the child closed the terminal
                os.read(fd, 65536)
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def time_python(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def completion_ms(text: str, fresh: bool) -> float:
    from skyql.registry import Registry
    from skyql.shell.catalog import Catalog
    from skyql.shell.completion import suggest

    catalog = Catalog(Registry())
    if not fresh:
        suggest(text, text, catalog)
    started = time.perf_counter()
    found = suggest(text, text, catalog)
    elapsed = (time.perf_counter() - started) * 1000
    assert found, text
    return elapsed


def median(fn: Callable[[], float], runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as state:
        time_to_prompt(state)  # warm the OS file cache and .pyc files once
        start, pt, bare, sess, own = [], [], [], [], []
        for _ in range(runs):  # interleaved, so drift in machine load hits every figure alike
            start.append(time_to_prompt(state))
            pt.append(time_python("import prompt_toolkit"))
            bare.append(time_python("pass"))
            sess.append(time_python("import skyql.session"))
            own.append(time_python("import skyql.cli.main, skyql.shell.repl, skyql.shell.prompt"))
    s, p, b, ss, o = (statistics.median(x) for x in (start, pt, bare, sess, own))
    print(f"python -c pass                         {b * 1000:6.0f} ms")
    print(f"python -c 'import prompt_toolkit'      {p * 1000:6.0f} ms")
    print(
        f"python -c 'import skyql.session'       {ss * 1000:6.0f} ms   (sqlglot loads at the first statement)"
    )
    print(f"python -c 'import <the shell modules>' {o * 1000:6.0f} ms   (prompt_toolkit, registry, shell)")
    print(
        f"skyql shell to first prompt            {s * 1000:6.0f} ms   = {s / p:.2f}x the prompt_toolkit "
        f"import (target <= 2x)"
    )
    print()
    print(f"{'completion (median of ' + str(runs) + ')':40} {'cold ms':>8} {'warm ms':>8}")
    for label, text in CASES:
        cold = median(lambda text=text: completion_ms(text, fresh=True), runs)
        warm = median(lambda text=text: completion_ms(text, fresh=False), runs)
        print(f"{label:40} {cold:8.1f} {warm:8.2f}")


if __name__ == "__main__":
    main()
