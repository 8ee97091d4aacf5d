"""Helpers shared by the SELECT benchmarks: an emulator in its own process, and contenders in theirs."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


@dataclass
class EmulatorProcess:
    url: str
    key: Path

    def control(self, what: str, body: dict[str, Any]) -> Any:
        reply = httpx.post(f"{self.url}/_emulator/{what}", json=body, timeout=600)
        reply.raise_for_status()
        return reply.json()

    def populate(self, service: str, collection: str, count: int) -> int:
        return int(
            self.control("populate", {"service": service, "collection": collection, "count": count})["count"]
        )

    def clear_log(self) -> None:
        """Empty the request log, so that no contender pays for a log the ones before it filled."""
        httpx.delete(f"{self.url}/_emulator/log", timeout=60).raise_for_status()


@contextmanager
def emulator_process(
    workdir: Path, page_size_cap: int = 50, latency_ms: int = 0
) -> Iterator[EmulatorProcess]:
    """`python -m skyql.emulator` on a free port with a key file for it: the server gets its own interpreter."""
    key = workdir / "emulator-key.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skyql.emulator",
            "--port",
            "0",
            "--page-size-cap",
            str(page_size_cap),
            "--latency-ms",
            str(latency_ms),
            "--make-key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        proc.stdout.readline()  # "service-account key written to ..."
        yield EmulatorProcess(url, key)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_child(script: str, name: str, *args: str, src: str | None = None) -> dict[str, Any]:
    """Run `python script --child NAME ...` and return the JSON object it prints last.

    `src`: import skyql from this source tree instead (another checkout's `src/`, for before/after figures).
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, script, "--child", name, *args],
        capture_output=True,
        text=True,
        timeout=3600,
        env=env if src else None,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} --child {name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """This process's peak resident set size (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load}"
    )


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
