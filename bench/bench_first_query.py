"""The first real query in a fresh process: `skyql exec` of a one-page SELECT against an emulator that is already
running, beside `python -c "import duckdb, sqlglot"`, in the same run.

Run by hand: python bench/bench_first_query.py [--rounds N] [--baseline-src DIR]
Target (issue 12): the query with a cached token at most 2x the import baseline. Rounds interleave every
command, so load on a shared machine falls on all of them alike; medians are reported.
`--baseline-src DIR` adds the same query importing skyql from another checkout's src/ (before/after figures).
`--instructions` also counts each command's CPU instructions under valgrind (callgrind): a figure the load of a
shared machine cannot move, though it leaves out what happens in parallel and while waiting on the network.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator_process import emulator_process, machine, median  # noqa: E402

QUERY = "SELECT jobId, state FROM google.ml.jobs WHERE projectsId = 'demo-project' LIMIT 1"


def seconds(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def instructions(cmd: list[str], env: dict[str, str]) -> int:
    """Instructions the command executes (valgrind's callgrind), threads included."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return int(re.findall(r"Collected : (\d+)", done.stderr)[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--baseline-src", metavar="DIR", help="also run skyql from this src/ directory")
    parser.add_argument("--instructions", action="store_true", help="also count instructions with valgrind")
    args = parser.parse_args()
    if args.instructions and not shutil.which("valgrind"):
        parser.error("--instructions needs valgrind (apt-get install valgrind)")
    counted: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, emulator_process(Path(tmp)) as emu:
        auth = json.dumps({"google": {"type": "service_account", "credentialsfilepath": str(emu.key)}})
        query = [
            sys.executable,
            "-m",
            "skyql.cli.main",
            "exec",
            "--endpoint",
            f"google={emu.url}",
            "--auth",
            auth,
            QUERY,
        ]
        plain = {**os.environ, "SKYQL_CACHE_DIR": str(Path(tmp) / "cache")}
        # As on a user's machine: compiled modules are cached (an editable install under
        # PYTHONDONTWRITEBYTECODE would compile skyql's sources on every run, ~60 ms).
        for name in ("SKYQL_TOKEN_CACHE", "PYTHONDONTWRITEBYTECODE"):
            plain.pop(name, None)
        uncached = {**plain, "SKYQL_TOKEN_CACHE": "off"}

        contenders: dict[str, tuple[list[str], dict[str, str]]] = {
            "baseline: python -c 'import duckdb, sqlglot'": (
                [sys.executable, "-c", "import duckdb, sqlglot"],
                plain,
            ),
            "skyql exec SHOW METHODS (metadata)": (
                [sys.executable, "-m", "skyql.cli.main", "exec", "SHOW METHODS IN google.ml.jobs"],
                plain,
            ),
            "skyql exec SELECT, token cached": (query, plain),
            "skyql exec SELECT, token cache off": (query, uncached),
        }
        if args.baseline_src:
            old = {**plain, "PYTHONPATH": args.baseline_src}
            contenders["skyql exec SELECT @baseline-src"] = (query, old)
        for cmd, env in contenders.values():  # warm file caches and the token cache alike
            seconds(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name, (cmd, env) in contenders.items():
                times[name].append(seconds(cmd, env))
                emu.clear_log()
        if args.instructions:
            counted = {name: instructions(cmd, env) for name, (cmd, env) in contenders.items()}
    base = median(times["baseline: python -c 'import duckdb, sqlglot'"])
    print(f"{machine()}; median of {args.rounds} interleaved rounds")
    for name, values in times.items():
        m = median(values)
        print(f"{name:<52} {m * 1000:7.1f} ms  {m / base:5.2f}x baseline")
    if counted:
        base_count = counted["baseline: python -c 'import duckdb, sqlglot'"]
        print("instructions (callgrind, one run each)")
        for name, count in counted.items():
            print(f"{name:<52} {count / 1e6:7.0f} M   {count / base_count:5.2f}x baseline")


if __name__ == "__main__":
    main()
