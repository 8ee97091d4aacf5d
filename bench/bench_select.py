"""SELECT over 100,000 ml jobs (1,000 pages of 100) from the emulator: skyql against what Python users do today.

Run by hand: python bench/bench_select.py [--items 100000] [--rounds 5] [--only skyql,httpx]
The emulator runs in its own process (`python -m skyql.emulator --page-size-cap 100`), so the client side has
an interpreter to itself; the project is read once per `fields` mask before timing (server caches warm). Every timed run is a fresh subprocess (its peak RSS is its own) that warms up on a
3-job project first (imports, registry, token), then times one query. Rounds interleave the contenders.
  skyql            Session.execute("SELECT state, count(*) ... GROUP BY state"), page_size=100, with the default
                   `fields` pushdown (only state is downloaded)
  skyql-full       the same with pushdown=False: the same full pages as A and B
  client (A)       google-api-python-client jobs().list / list_next + pandas.json_normalize + groupby
  httpx (B)        a plain httpx loop that only downloads the full pages (token read from the page tail)
  httpx-fields     B with the `fields` mask skyql sends: the floor for `skyql`
  httpx-async      B with httpx.AsyncClient; aiohttp: B with aiohttp (the library skyql's wire uses)
  skyql-two(-full) SELECT jobId, state ... (100,000 rows back to Python), with and without pushdown
Targets: skyql >= 10x faster than A and within 1.5x of B; peak RSS <= 300 MB + the bytes received.
--baseline-src DIR adds `skyql@base` and `skyql-full@base`: the same runs importing skyql from another
checkout's src/ (e.g. `git archive HEAD | tar -x -C /tmp/base`), interleaved with the others: before/after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from emulator_process import emulator_process, machine, median, peak_rss_mb, run_child, timed

PROJECT = "bench"
WARM = "bench-warm"
GROUP_BY = f"SELECT state, count(*) AS n FROM google.ml.jobs WHERE projectsId = '{PROJECT}' GROUP BY state"
TWO_COLUMNS = f"SELECT jobId, state FROM google.ml.jobs WHERE projectsId = '{PROJECT}'"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
PAGE = 100
CONTENDERS = [
    "skyql",
    "skyql-full",
    "client",
    "httpx",
    "httpx-fields",
    "httpx-async",
    "aiohttp",
    "skyql-two",
    "skyql-two-full",
]


# -- contenders (each runs in its own process) -------------------------------------------------------


def skyql_child(url: str, key: str, sql: str, pushdown: bool) -> dict[str, Any]:
    import skyql.fetch.client as client
    from skyql.session import Options, Session

    received = [0]
    send = client.Fetcher._send

    async def counting(self: Any, request: Any, budget: Any) -> Any:
        response = await send(self, request, budget)
        received[0] += len(response.content)
        return response

    client.Fetcher._send = counting  # type: ignore[method-assign]
    auth = {"google": {"type": "service_account", "credentialsfilepath": key}}
    with Session(Options(auth=auth, endpoints={"google": url}, page_size=PAGE, pushdown=pushdown)) as session:
        # A shell or notebook has imported, loaded the registry and got a token before its second query.
        session.execute(f"SELECT count(*) FROM google.ml.jobs WHERE projectsId = '{WARM}'")
        base = peak_rss_mb()
        received[0] = 0
        seconds, result = timed(lambda: session.execute(sql))
    if result.columns == ["state", "n"]:
        answer: Any = {str(state): int(n) for state, n in result.rows}
    else:
        answer = {"rows": len(result.rows)}
    return {
        "seconds": seconds,
        "rss": peak_rss_mb(),
        "rss_before": base,
        "bytes": received[0],
        "answer": answer,
    }


def client_child(url: str, key: str) -> dict[str, Any]:
    import pandas as pd
    from google.oauth2 import service_account
    from googleapiclient.discovery import build

    creds = service_account.Credentials.from_service_account_file(key, scopes=SCOPES)
    ml = build(
        "ml",
        "v1",
        credentials=creds,
        client_options={"api_endpoint": url},
        static_discovery=True,
        cache_discovery=False,
    )
    jobs = ml.projects().jobs()

    def run(project: str) -> dict[str, int]:
        items: list[dict[str, Any]] = []
        request = jobs.list(parent=f"projects/{project}", pageSize=PAGE)
        while request is not None:
            response = request.execute()
            items.extend(response.get("jobs", []))
            request = jobs.list_next(request, response)
        frame = pd.json_normalize(items)
        return {str(k): int(v) for k, v in frame.groupby("state").size().items()}

    run(WARM)
    base = peak_rss_mb()
    seconds, answer = timed(lambda: run(PROJECT))
    return {"seconds": seconds, "rss": peak_rss_mb(), "rss_before": base, "bytes": None, "answer": answer}


def httpx_child(url: str, key: str, fields: str | None) -> dict[str, Any]:
    import httpx
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_file(key, scopes=SCOPES)
    creds.refresh(Request())
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {creds.token}"}, timeout=60)

    def run(project: str) -> tuple[int, int]:
        size = pages = 0
        params: dict[str, Any] = {"pageSize": PAGE, **({"fields": fields} if fields else {})}
        while True:
            reply = client.get(f"/v1/projects/{project}/jobs", params=params)
            reply.raise_for_status()
            body = reply.content
            size += len(body)
            pages += 1
            token = _tail_token(body)
            if token is None:
                return size, pages
            params["pageToken"] = token

    run(WARM)
    base = peak_rss_mb()
    seconds, (size, pages) = timed(lambda: run(PROJECT))
    return {
        "seconds": seconds,
        "rss": peak_rss_mb(),
        "rss_before": base,
        "bytes": size,
        "answer": {"pages": pages},
    }


def async_child(url: str, key: str, library: str) -> dict[str, Any]:
    """B's loop, full pages, with an async client: what each library costs per request in a page chain."""
    import asyncio

    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_file(key, scopes=SCOPES)
    creds.refresh(Request())
    headers = {"Authorization": f"Bearer {creds.token}"}

    async def chain(get: Any, project: str) -> tuple[int, int]:
        size = pages = 0
        params: dict[str, Any] = {"pageSize": str(PAGE)}
        while True:
            body = await get(f"{url}/v1/projects/{project}/jobs", params)
            size += len(body)
            pages += 1
            token = _tail_token(body)
            if token is None:
                return size, pages
            params["pageToken"] = token

    async def main() -> tuple[float, tuple[int, int], float]:
        if library == "aiohttp":
            import aiohttp

            async with aiohttp.ClientSession(headers=headers) as session:

                async def get(u: str, params: dict[str, Any]) -> bytes:
                    async with session.get(u, params=params) as reply:
                        reply.raise_for_status()
                        return await reply.read()

                return await _timed_async(chain, get)
        import httpx

        async with httpx.AsyncClient(headers=headers, timeout=60) as client:

            async def aget(u: str, params: dict[str, Any]) -> bytes:
                reply = await client.get(u, params=params)
                reply.raise_for_status()
                return reply.content

            return await _timed_async(chain, aget)

    seconds, (size, pages), base = asyncio.run(main())
    return {
        "seconds": seconds,
        "rss": peak_rss_mb(),
        "rss_before": base,
        "bytes": size,
        "answer": {"pages": pages},
    }


async def _timed_async(chain: Any, get: Any) -> tuple[float, Any, float]:
    import time

    await chain(get, WARM)
    base = peak_rss_mb()
    start = time.perf_counter()
    out = await chain(get, PROJECT)
    return time.perf_counter() - start, out, base


def _tail_token(body: bytes) -> str | None:
    """The emulator writes nextPageToken last, as Google does: read it without parsing the page."""
    at = body.rfind(b'"nextPageToken":"')
    if at < 0:
        return None
    start = at + len(b'"nextPageToken":"')
    return body[start : body.index(b'"', start)].decode()


def skyql_mask(sql: str) -> str:
    """The `fields` mask skyql sends for `sql`, so that the httpx floor downloads the very same pages."""
    from skyql.session import Options, Session
    from skyql.sql import parse_one

    with Session(Options(page_size=PAGE)) as session:
        fetch = session.plan(parse_one(sql)).fetches[0]
        request = session.requests_for(fetch, fetch.partitions)[0]
    return dict(request.query)["fields"]


def child(args: argparse.Namespace) -> int:
    name, url, key = args.child, args.url, args.key
    if name.startswith("skyql"):
        sql = TWO_COLUMNS if name.startswith("skyql-two") else GROUP_BY
        out = skyql_child(url, key, sql, pushdown=not name.endswith("-full"))
    elif name == "client":
        out = client_child(url, key)
    elif name in ("httpx", "httpx-fields"):
        out = httpx_child(url, key, args.fields if name == "httpx-fields" else None)
    elif name in ("httpx-async", "aiohttp"):
        out = async_child(url, key, name)
    else:
        raise SystemExit(f"unknown contender {name}: pick from {', '.join(CONTENDERS)}")
    print(json.dumps(out))
    return 0


# -- the driver --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="comma-separated contenders (default: all)")
    parser.add_argument("--baseline-src", metavar="DIR", help="also run skyql from this src/ directory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--fields", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    names = [n for n in CONTENDERS if not args.only or n in args.only.split(",")]
    if args.baseline_src:
        names += [f"{n}@base" for n in ("skyql", "skyql-full") if n in names]
    with tempfile.TemporaryDirectory() as tmp, emulator_process(Path(tmp), page_size_cap=PAGE) as emu:
        seconds, count = timed(lambda: emu.populate("ml", f"projects/{PROJECT}/jobs", args.items))
        emu.populate("ml", f"projects/{WARM}/jobs", 3)
        print(
            f"# {dt.date.today()}; {machine()}; emulator in its own process; {count:,} jobs populated in "
            f"{seconds:.1f} s; {args.rounds} rounds, contenders interleaved",
            flush=True,
        )
        mask = skyql_mask(GROUP_BY)
        _warm_server(emu, [mask, skyql_mask(TWO_COLUMNS)])
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        # Interleaved rounds: a busy spell on the machine hits every contender alike.
        for _ in range(args.rounds):
            for name in names:
                emu.clear_log()
                contender, _, base = name.partition("@")
                runs[name].append(
                    run_child(
                        __file__,
                        contender,
                        "--url",
                        emu.url,
                        "--key",
                        str(emu.key),
                        "--fields",
                        mask,
                        src=args.baseline_src if base else None,
                    )
                )
    results = {name: _merge(outs) for name, outs in runs.items()}
    for name, out in results.items():
        _report(name, out)
    print(f"# finished; {machine()}")
    _summary(results)
    return 0


def _warm_server(emu: Any, masks: list[str]) -> None:
    """Read the project once per mask before timing: the emulator remembers masked items, so the first
    contender to ask for a mask would otherwise pay the server's one-off cost (Google has no such cost)."""
    import httpx
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_file(str(emu.key), scopes=SCOPES)
    creds.refresh(Request())
    with httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {creds.token}"}, timeout=60) as c:
        for fields in (None, *masks):
            params: dict[str, Any] = {"pageSize": PAGE, **({"fields": fields} if fields else {})}
            while (
                token := _tail_token(c.get(f"/v1/projects/{PROJECT}/jobs", params=params).content)
            ) is not None:
                params["pageToken"] = token


def _merge(outs: list[dict[str, Any]]) -> dict[str, Any]:
    """One contender's rounds: every time, the highest peak RSS, the last answer."""
    return {
        "times": [o["seconds"] for o in outs],
        "rss": max(o["rss"] for o in outs),
        "rss_before": max(o["rss_before"] for o in outs),
        "bytes": outs[-1]["bytes"],
        "answer": outs[-1]["answer"],
    }


def _report(name: str, out: dict[str, Any]) -> None:
    times = out["times"]
    size = f"{out['bytes'] / 1e6:6.1f} MB" if out["bytes"] is not None else "     - "
    print(
        f"{name:16} median {median(times):6.3f} s  best {min(times):6.3f} s  received {size}  "
        f"peak RSS {out['rss']:5.0f} MB (after warm-up {out['rss_before']:4.0f} MB)",
        flush=True,
    )


def _summary(results: dict[str, dict[str, Any]]) -> None:
    t = {name: median(out["times"]) for name, out in results.items()}

    def ratio(a: str, b: str, label: str) -> None:
        if a in t and b in t:
            print(f"{label:55} {t[a] / t[b]:6.2f}x")

    print()
    ratio("client", "skyql", "A (client + pandas) / skyql              (target >= 10)")
    ratio("client", "skyql-full", "A (client + pandas) / skyql-full         (target >= 10)")
    ratio("skyql-full", "httpx", "skyql-full / B, the same full pages      (target <= 1.5)")
    ratio("skyql", "httpx-fields", "skyql / B-fields, the same masked pages  (target <= 1.5)")
    ratio("skyql", "httpx", "skyql (pushdown) / B (full pages)")
    ratio("httpx-async", "httpx", "B with httpx.AsyncClient / B")
    ratio("aiohttp", "httpx", "B with aiohttp / B")
    ratio("skyql-full", "aiohttp", "skyql-full / B with aiohttp (skyql's own cost)")
    ratio("skyql-two-full", "skyql-two", "jobId, state: no pushdown / pushdown")
    ratio("skyql-full@base", "skyql-full", "skyql-full: baseline / this tree")
    ratio("skyql@base", "skyql", "skyql: baseline / this tree")
    for name, out in results.items():
        if name.startswith("skyql") and out["bytes"] is not None:
            limit = 300 + out["bytes"] / 2**20
            verdict = "OK" if out["rss"] <= limit else "OVER"
            print(
                f"{name:15} peak RSS {out['rss']:.0f} MB; limit 300 MB + received = {limit:.0f} MB: {verdict}"
            )
    answers = {
        name: out["answer"] for name, out in results.items() if name in ("skyql", "skyql-full", "client")
    }
    if len({json.dumps(a, sort_keys=True) for a in answers.values()}) > 1:
        print("ANSWERS DIFFER:", answers)
    elif answers:
        print(f"answers agree: {', '.join(answers)} give the same counts per state")


if __name__ == "__main__":
    sys.exit(main())
