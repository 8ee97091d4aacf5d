"""IN fan-out: 20 locations x 5 pages each, 50 ms added to every request, skyql concurrent against serial.

Run by hand: python bench/bench_fanout.py [--locations 20] [--pages 5] [--latency-ms 50] [--rounds 3]
The emulator runs in its own process (`python -m skyql.emulator --latency-ms 50`, pages capped at 50); each
location's hyperparameter tuning jobs fill exactly `pages` pages. The query is
  SELECT locationsId, count(*) FROM google.aiplatform.hyperparameter_tuning_jobs
  WHERE projectsId = 'fan' AND locationsId IN (...20...) GROUP BY locationsId
run through Session with concurrency 16 (the default) and 1 (serial), in the same process, rounds interleaved.
Target: concurrent <= 0.1 x serial. A location's pages follow each other (each needs the previous page's
token), so the floor is max(pages, ceil(requests / concurrency)) x latency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import tempfile
from pathlib import Path

from emulator_process import emulator_process, machine, median, timed

from skyql.registry import Registry
from skyql.session import Options, Session

PROJECT = "fan"
CAP = 50


def locations(count: int) -> list[str]:
    """Real Vertex AI regions (with a regional endpoint), so each stream goes to its own regional host."""
    service = Registry().service("google", "aiplatform")
    regional = sorted(loc for loc, url in service.endpoints.items() if url and ".rep." not in url)
    if len(regional) < count:
        raise SystemExit(f"only {len(regional)} aiplatform regions known")
    return regional[:count]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    regions = locations(args.locations)
    in_list = ", ".join(f"'{loc}'" for loc in regions)
    sql = (
        f"SELECT locationsId, count(*) AS n FROM google.aiplatform.hyperparameter_tuning_jobs "
        f"WHERE projectsId = '{PROJECT}' AND locationsId IN ({in_list}) GROUP BY locationsId"
    )
    requests = args.locations * args.pages
    with (
        tempfile.TemporaryDirectory() as tmp,
        emulator_process(Path(tmp), page_size_cap=CAP, latency_ms=args.latency_ms) as emu,
    ):
        for loc in regions:
            emu.populate(
                "aiplatform", f"projects/{PROJECT}/locations/{loc}/hyperparameterTuningJobs", args.pages * CAP
            )
        print(
            f"# {dt.date.today()}; {machine()}; emulator in its own process, {args.latency_ms} ms per request; "
            f"{args.locations} locations x {args.pages} pages of {CAP} = {requests} list requests",
            flush=True,
        )
        auth = {"google": {"type": "service_account", "credentialsfilepath": str(emu.key)}}
        sessions = {
            n: Session(Options(auth=auth, endpoints={"google": emu.url}, concurrency=n))
            for n in (args.concurrency, 1)
        }
        times: dict[int, list[float]] = {n: [] for n in sessions}
        for session in sessions.values():  # token, registry, DuckDB
            session.execute(sql.replace(in_list, f"'{regions[0]}'"))
        for _ in range(args.rounds):
            for n, session in sessions.items():
                emu.clear_log()
                seconds, result = timed(lambda s=session: s.execute(sql))
                assert len(result.rows) == args.locations, result.rows
                assert {row[1] for row in result.rows} == {args.pages * CAP}, result.rows
                times[n].append(seconds)
                print(f"concurrency {n:2}: {seconds:6.3f} s", flush=True)
        for session in sessions.values():
            session.close()
    fast, serial = median(times[args.concurrency]), median(times[1])
    latency = args.latency_ms / 1000
    floor = max(args.pages, math.ceil(requests / args.concurrency)) * latency
    waves = math.ceil(args.locations / args.concurrency) * args.pages * latency
    print(
        f"\nserial (concurrency 1)       median {serial:6.3f} s  (floor {requests} x {latency:g} s = "
        f"{requests * latency:.2f} s)"
    )
    print(
        f"concurrency {args.concurrency:<2}               median {fast:6.3f} s  (floor {floor:.2f} s; "
        f"{math.ceil(args.locations / args.concurrency)} waves of whole streams: {waves:.2f} s)"
    )
    print(f"concurrent / serial: {fast / serial:.3f}x (target <= 0.1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
