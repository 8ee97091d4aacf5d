"""SQLite's functions in the local SQL over 100,000 loaded rows, against DuckDB's own functions, same run.

Run by hand: python bench/bench_sqlite_functions.py [runs]. The date functions are answered by SQLite itself
(one call per row); the rest are DuckDB expressions.
"""

from __future__ import annotations

import statistics
import sys
import time

from skyql.engine import Engine
from skyql.registry.model import Column
from skyql.sql.sqlite import rewrite_sql

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ROWS = 100_000
PAIRS = {
    "strftime": (
        "SELECT count(epoch(createTime)::BIGINT::VARCHAR) FROM t",
        "SELECT count(strftime('%s', createTime)) FROM t",
    ),
    "julianday": (
        "SELECT count(epoch(createTime) / 86400.0 + 2440587.5) FROM t",
        "SELECT count(julianday(createTime)) FROM t",
    ),
    "datetime() in WHERE": (
        "SELECT count(*) FROM t WHERE createTime > TIMESTAMP '2024-05-10'",
        "SELECT count(*) FROM t WHERE createTime > datetime('2024-05-10')",
    ),
    "LIKE": (
        "SELECT count(*) FROM t WHERE state ILIKE 'run%'",
        "SELECT count(*) FROM t WHERE state LIKE 'run%'",
    ),
    "bare column": (
        "SELECT state, any_value(jobId) FROM t GROUP BY state",
        "SELECT state, jobId FROM t GROUP BY state",
    ),
}


def median_seconds(engine: Engine, sql: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        engine.query(sql)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    engine = Engine()
    engine.create_table(
        "t",
        [
            Column("jobId", "string"),
            Column("state", "string"),
            Column("createTime", "string", format="google-datetime"),
        ],
        [],
    )
    states = ["RUNNING", "FAILED", "SUCCEEDED", "QUEUED"]
    engine.load_rows(
        "t",
        [
            {
                "jobId": f"job_{i}",
                "state": states[i % 4],
                "createTime": f"2024-05-{1 + i % 28:02d}T08:{i % 60:02d}:51Z",
            }
            for i in range(ROWS)
        ],
        {},
    )
    print(f"{ROWS} rows, median of {RUNS} runs: DuckDB's own function (baseline) vs SQLite's")
    for label, (baseline, sqlite_sql) in PAIRS.items():
        base = median_seconds(engine, baseline)
        ours = median_seconds(engine, rewrite_sql(sqlite_sql))
        print(f"{label:22} {base * 1000:8.1f} ms  {ours * 1000:8.1f} ms  {ours / base:6.1f}x")


if __name__ == "__main__":
    main()
