"""Loading 100,000 ml jobs (1,000 pages of 100, ~1 KB each) into DuckDB, then GROUP BY state.

Run by hand: python bench/bench_engine_load.py [pages] [per_page]. Each contender runs in its own process
(so peak RSS is its own) on the same generated pages:
  engine     skyql.engine.Engine.load_page for every page, then SELECT state, count(*) ... GROUP BY state
  json       json.loads of every page and nothing else: what any Python-side parsing costs at least
  pandas     json.loads + pandas.json_normalize + groupby: what google-api-python-client users do today
  download   an httpx loop fetching the pages one after another from a local HTTP server (loopback)
  download+engine   the same loop handing each page to Engine.load_page, then the GROUP BY
Targets: engine 10x faster than pandas; download+engine within 1.5x of download; memory at most 300 MB
over the page bytes.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from typing import Any

QUERY = "SELECT state, count(*) AS n FROM jobs GROUP BY state ORDER BY state"


def job(i: int, columns: list[Any], rnd: random.Random) -> dict[str, Any]:
    """One ml Job with every column of the registry schema filled the way the API fills it."""
    row: dict[str, Any] = {}
    for col in columns:
        schema = col.schema or {}
        if col.name == "state":
            row[col.name] = rnd.choice(
                [e for e in schema.get("enum", ["SUCCEEDED"]) if e != "STATE_UNSPECIFIED"]
            )
        elif col.format in ("google-datetime", "date-time"):
            row[col.name] = (
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:07.{i % 10**9:09d}Z"
            )
        elif col.type == "integer":
            row[col.name] = str(i * 13)  # int64: a JSON string
        elif col.name == "labels":
            row[col.name] = {
                "team": "abc"[i % 3],
                "env": "prod" if i % 2 else "dev",
                "owner": f"user{i % 50}",
            }
        elif col.name == "trainingInput":
            row[col.name] = {
                "scaleTier": "CUSTOM",
                "masterType": "n1-standard-8",
                "workerType": "n1-standard-8",
                "parameterServerType": "n1-standard-4",
                "workerCount": "4",
                "parameterServerCount": "2",
                "packageUris": [f"gs://bucket-{i % 10}/packages/trainer-0.{i % 5}.tar.gz"],
                "pythonModule": "trainer.task",
                "args": ["--epochs", str(i % 100), "--lr", "0.001"],
                "region": "us-central1",
                "runtimeVersion": "2.11",
                "pythonVersion": "3.7",
                "jobDir": f"gs://bucket-{i % 10}/jobs/train_{i:06d}",
                "hyperparameters": {
                    "goal": "MAXIMIZE",
                    "hyperparameterMetricTag": "accuracy",
                    "maxTrials": 10,
                    "params": [
                        {"parameterName": "lr", "type": "DOUBLE", "minValue": 0.0001, "maxValue": 0.1}
                    ],
                },
            }
        elif col.name == "trainingOutput":
            row[col.name] = {
                "completedTrialCount": str(i % 11),
                "consumedMLUnits": round(i * 0.37, 2),
                "isHyperparameterTuningJob": i % 2 == 0,
            }
        elif col.type in ("object", "array"):
            continue  # prediction jobs' fields: absent on training jobs, as the API omits them
        elif col.name == "errorMessage":
            if i % 7 == 0:
                row[col.name] = "The replica master 0 exited with a non-zero status of 1."
        elif col.name == "jobId":
            row[col.name] = f"train_{i:06d}"
        else:
            row[col.name] = f"{col.name}-{i:x}"
    return row


def make_pages(n_pages: int, per_page: int) -> list[bytes]:
    from skyql.registry import Registry

    columns = Registry().lookup("google.ml.jobs").columns()
    rnd = random.Random(7)
    pages = []
    for p in range(n_pages):
        body: dict[str, Any] = {"jobs": [job(p * per_page + k, columns, rnd) for k in range(per_page)]}
        if p < n_pages - 1:
            body["nextPageToken"] = f"token-{p + 1}"
        pages.append(json.dumps(body).encode())
    return pages


def run_engine(pages: list[bytes]) -> list[tuple[Any, ...]]:
    from skyql.engine import Engine
    from skyql.registry import Registry

    engine = Engine()
    engine.create_table("jobs", Registry().lookup("google.ml.jobs").columns(), ["projectsId"])
    for body in pages:
        engine.load_page("jobs", body, "$.jobs", {"projectsId": "bench"})
    return engine.query(QUERY).rows


def run_json(pages: list[bytes]) -> list[tuple[Any, ...]]:
    counts: dict[str, int] = {}
    for body in pages:
        for item in json.loads(body).get("jobs", []):
            counts[item.get("state")] = counts.get(item.get("state"), 0) + 1
    return sorted(counts.items())


def run_pandas(pages: list[bytes]) -> list[tuple[Any, ...]]:
    import pandas as pd

    items = []
    for body in pages:
        items.extend(json.loads(body).get("jobs", []))
    frame = pd.json_normalize(items)
    return sorted(frame.groupby("state").size().items())


def fetch_all(port: int, n_pages: int, engine: Any | None) -> None:
    import asyncio

    import httpx

    async def loop() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for i in range(n_pages):
                response = await client.get("/v1/projects/bench/jobs", params={"pageToken": str(i)})
                response.raise_for_status()
                if engine is not None:
                    engine.load_page("jobs", response.content, "$.jobs", {"projectsId": "bench"})

    asyncio.run(loop())


def run_download(pages: list[bytes], port: int) -> list[tuple[Any, ...]]:
    fetch_all(port, len(pages), None)
    return [("all", sum(len(json.loads(b)["jobs"]) for b in pages[:1]) * len(pages))]


def run_download_engine(pages: list[bytes], port: int) -> list[tuple[Any, ...]]:
    from skyql.engine import Engine
    from skyql.registry import Registry

    engine = Engine()
    engine.create_table("jobs", Registry().lookup("google.ml.jobs").columns(), ["projectsId"])
    fetch_all(port, len(pages), engine)
    return engine.query(QUERY).rows


def serve(n_pages: int, per_page: int) -> None:
    """Serve the pages on loopback (pageToken=i gives page i) until killed; prints the port."""
    import http.server

    pages = make_pages(n_pages, per_page)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body = pages[int(self.path.rsplit("=", 1)[-1])]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def child(mode: str, n_pages: int, per_page: int, port: int) -> None:
    pages = make_pages(n_pages, per_page)
    # Imports are not what is measured: load them first (duckdb for the engine, pandas for its baseline).
    modules = {"engine": "skyql.engine", "json": "json", "pandas": "pandas", "download": "httpx"}
    __import__(modules.get(mode, "skyql.engine"))
    __import__("httpx")
    received = sum(map(len, pages))
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if mode.startswith("download"):
        rows = (run_download if mode == "download" else run_download_engine)(pages, port)
    else:
        rows = {"engine": run_engine, "json": run_json, "pandas": run_pandas}[mode](pages)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    total = sum(int(n) for _, n in rows)
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": seconds,
                "rows": total,
                "received_mb": received / 1e6,
                "peak_mb": peak_kb / 1024,
                "over_pages_mb": (peak_kb - base_kb) / 1024,
            }
        )
    )


def main() -> None:
    n_pages = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    per_page = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(n_pages), str(per_page)], stdout=subprocess.PIPE, text=True
    )
    try:
        port = server.stdout.readline().strip() if server.stdout else ""
        results = {}
        for mode in ("engine", "json", "pandas", "download", "download+engine"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(n_pages), str(per_page), port],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results[mode] = json.loads(out.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait()
    first = results["engine"]
    print(f"{n_pages} pages x {per_page} jobs = {first['rows']} rows, {first['received_mb']:.1f} MB of JSON")
    print(f"{'contender':<16} {'seconds':>8} {'vs engine':>10} {'peak RSS MB':>12} {'over pages MB':>14}")
    for mode, r in results.items():
        print(
            f"{mode:<16} {r['seconds']:8.3f} {r['seconds'] / first['seconds']:9.2f}x "
            f"{r['peak_mb']:12.0f} {r['over_pages_mb']:14.0f}"
        )
    print(
        f"pandas / engine: {results['pandas']['seconds'] / first['seconds']:.1f}x (target >= 10); "
        f"download+engine / download: "
        f"{results['download+engine']['seconds'] / results['download']['seconds']:.2f}x (target <= 1.5)"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
