"""Soak: 10,000 requests across a 100-project fan-out, with and without 5% random faults, row for row.

Run by hand: python bench/bench_soak.py [--projects 100] [--jobs 1000] [--page 10] [--rounds 3]
The emulator runs in its own process; faults are injected through its control endpoint with a fixed seed:
2% HTTP 429, 2% HTTP 503 (both without Retry-After, so skyql's own backoff with jitter sets the pace) and
1% dropped connections, on the listing requests only. Each round runs the same SELECT fault-free and faulty,
in one Session each (warmed up first: imports, registry, token), and checks that the faulty answer equals the
fault-free one row for row: nothing lost, nothing duplicated. Reported: the time of each, the overhead of the
faults, the retries skyql made (Fetcher.retries, counted through the progress hook) against the faults the
emulator injected.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from emulator_process import EmulatorProcess, emulator_process, machine, median

from skyql.session import Options, Session

FAULTS = (  # (fault, share of the requests it hits); rules are tried in order
    ({"status": 429, "retry_after": None}, 0.02),
    ({"status": 503, "retry_after": None}, 0.02),
    ({"drop": True}, 0.01),
)


def inject_faults(emu: EmulatorProcess, seed: int) -> None:
    """The faults above on every listing request of a soak project, each rule with its own seeded dice."""
    for number, (fault, probability) in enumerate(FAULTS):
        # A later rule only sees the requests the earlier ones let through: scale its chance to keep its share.
        left = 1 - sum(p for _, p in FAULTS[:number])
        emu.control(
            "faults",
            {
                **fault,
                "match": "/projects/soak-",
                "count": 10**9,
                "probability": probability / left,
                "seed": seed * 10 + number,
            },
        )


def clear_faults(emu: EmulatorProcess) -> None:
    httpx.delete(f"{emu.url}/_emulator/faults", timeout=60).raise_for_status()


def injected(emu: EmulatorProcess) -> Counter[str]:
    """What the emulator did to the soak requests since the log was last cleared."""
    log = httpx.get(f"{emu.url}/_emulator/log", timeout=600).json()["requests"]
    kinds: Counter[str] = Counter()
    for entry in log:
        if "/projects/soak-" in entry["path"]:
            status = entry["status"]
            kinds["dropped" if status is None else f"HTTP {status}"] += 1
    return kinds


def run(
    emu: EmulatorProcess, sql: str, page: int, concurrency: int
) -> tuple[float, list[tuple[Any, ...]], Counter[str]]:
    """One statement in a fresh, warmed-up Session: (seconds, rows, progress events)."""
    auth = {"google": {"type": "service_account", "credentialsfilepath": str(emu.key)}}
    events: Counter[str] = Counter()
    options = Options(
        auth=auth, endpoints={"google": emu.url}, page_size=page, timeout=600, concurrency=concurrency
    )
    cuts = _Cuts()
    with Session(options) as session:
        session.execute("SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'warm-up'")
        session.progress = lambda kind, **info: events.update([kind])
        logging.getLogger("skyql.fetch").setLevel(logging.INFO)
        logging.getLogger("skyql.fetch").addHandler(cuts)
        try:
            started = time.perf_counter()
            rows = session.execute(sql).rows
            seconds = time.perf_counter() - started
        finally:
            logging.getLogger("skyql.fetch").removeHandler(cuts)
    events["concurrency cuts"] = len(cuts.limits)
    events["final concurrency"] = cuts.limits[-1] if cuts.limits else concurrency
    return seconds, rows, events


class _Cuts(logging.Handler):
    """The request limits the fetcher's adaptive 429 throttling set, from its log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.limits: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"keeps answering 429: (\d+) requests", record.getMessage())
        if found:
            self.limits.append(int(found.group(1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per project")
    parser.add_argument("--page", type=int, default=10, help="page size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    projects = [f"soak-{i:03d}" for i in range(args.projects)]
    listed = ", ".join(f"'{p}'" for p in projects)
    sql = f"SELECT projectsId, jobId, state FROM google.ml.jobs WHERE projectsId IN ({listed}) ORDER BY 1, 2"
    requests = args.projects * -(-args.jobs // args.page)
    print(
        f"# soak: {args.projects} projects x {args.jobs} jobs, pages of {args.page}: {requests} list requests,"
        f" concurrency {args.concurrency}"
    )
    print(f"# {machine()}")
    with tempfile.TemporaryDirectory() as tmp, emulator_process(Path(tmp), page_size_cap=args.page) as emu:
        for project in [*projects, "warm-up"]:
            emu.populate("ml", f"projects/{project}/jobs", args.jobs)
        clean_times, faulty_times, report = [], [], []
        for round_number in range(1, args.rounds + 1):
            # Alternate which goes first: a machine that warms up (or gets busier) favours neither.
            for faulty in (round_number % 2 == 0, round_number % 2 == 1):
                clear_faults(emu)
                if faulty:
                    inject_faults(emu, seed=round_number)
                emu.clear_log()
                outcome = run(emu, sql, args.page, args.concurrency)
                if faulty:
                    faulty_s, rows, events = outcome
                    faults = injected(emu)
                else:
                    clean_s, expected, clean_events = outcome
            clear_faults(emu)
            keys = Counter((r[0], r[1]) for r in rows)
            same = rows == expected
            hit = sum(n for kind, n in faults.items() if kind != "HTTP 200")
            report.append(
                {
                    "round": round_number,
                    "fault_free_s": round(clean_s, 2),
                    "faulty_s": round(faulty_s, 2),
                    "rows": len(rows),
                    "expected_rows": len(expected),
                    "identical": same,
                    "duplicated": sum(n - 1 for n in keys.values() if n > 1),
                    "missing": len(set(expected) - set(rows)),
                    "requests_fault_free": clean_events["request"],
                    "requests_faulty": events["request"],
                    "faults_injected": hit,
                    "fault_share": round(hit / max(1, sum(faults.values())), 4),
                    "faults": dict(faults),
                    "retries": events["retry"],
                    "concurrency_cuts": events["concurrency cuts"],
                    "final_concurrency": events["final concurrency"],
                }
            )
            print(json.dumps(report[-1]))
            clean_times.append(clean_s)
            faulty_times.append(faulty_s)
            if not same:
                raise SystemExit("the faulty run's rows differ from the fault-free run's")
    clean, faulty = median(clean_times), median(faulty_times)
    print(
        f"median fault-free {clean:.2f} s, with faults {faulty:.2f} s: overhead {100 * (faulty / clean - 1):.0f}%;"
        f" retries per round {[r['retries'] for r in report]}, faults injected {[r['faults_injected'] for r in report]}"
    )


if __name__ == "__main__":
    main()
