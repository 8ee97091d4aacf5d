"""Cold start: `skyql exec "SHOW METHODS IN ..."` against `python -c "import duckdb, sqlglot"`, same run.

Run by hand: python bench/bench_cold_start.py [runs]. Target: skyql at most 1.5x the baseline.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 15
COMMANDS = {
    "baseline: python -c 'import duckdb, sqlglot'": [sys.executable, "-c", "import duckdb, sqlglot"],
    "python -c 'pass' (interpreter alone)": [sys.executable, "-c", "pass"],
    "skyql exec SHOW METHODS": [
        sys.executable,
        "-m",
        "skyql.cli.main",
        "exec",
        "SHOW METHODS IN google.aiplatform.hyperparameter_tuning_jobs",
    ],
    "skyql exec DESCRIBE": [
        sys.executable,
        "-m",
        "skyql.cli.main",
        "exec",
        "DESCRIBE google.aiplatform.hyperparameter_tuning_jobs",
    ],
    "skyql exec SHOW SERVICES": [sys.executable, "-m", "skyql.cli.main", "exec", "SHOW SERVICES IN google"],
}


def median_seconds(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    # Interleave a warm-up so file caches are equally warm for every command.
    for cmd in COMMANDS.values():
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    results = {name: median_seconds(cmd) for name, cmd in COMMANDS.items()}
    base = results["baseline: python -c 'import duckdb, sqlglot'"]
    print(f"median of {RUNS} runs")
    for name, seconds in results.items():
        print(f"{name:<48} {seconds * 1000:7.1f} ms  {seconds / base:5.2f}x baseline")


if __name__ == "__main__":
    main()
