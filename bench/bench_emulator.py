"""How fast the emulator serves a large list: a plain httpx loop reads 100,000 ml jobs in pages of 100.

Run: python bench/bench_emulator.py [--items 100000] [--page-size 100] [--in-process]
By default the emulator runs in its own process (`python -m skyql.emulator`), as `skyql emulator` does, so the
client and the server each have a core; --in-process shares one interpreter (and its GIL) between them.
Target: at least 1,000 pages/s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from skyql.emulator import Emulator

COLLECTION = "projects/bench/jobs"


@contextmanager
def emulator_url(in_process: bool, page_size: int) -> Iterator[str]:
    """The URL of a running emulator: a child `python -m skyql.emulator`, or one in this process."""
    if in_process:
        with Emulator(page_size_cap=page_size) as emu:
            yield emu.url
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "skyql.emulator", "--port", "0", "--page-size-cap", str(page_size)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().split()[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def access_token(client: httpx.Client) -> str:
    """A real token from the emulator's OAuth2 endpoint, obtained by google-auth as a user's would be."""
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    key = client.get("/_emulator/key").json()
    creds = service_account.Credentials.from_service_account_info(
        key, scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    creds.refresh(Request())
    return creds.token


def read_all(client: httpx.Client, page_size: int) -> tuple[int, int]:
    """Follow nextPageToken to the end; return (items, pages)."""
    items = pages = 0
    params: dict[str, str | int] = {"pageSize": page_size}
    while True:
        resp = client.get(f"/v1/{COLLECTION}", params=params)
        resp.raise_for_status()
        body = resp.json()
        items += len(body.get("jobs", ()))
        pages += 1
        token = body.get("nextPageToken")
        if not token:
            return items, pages
        params = {"pageSize": page_size, "pageToken": token}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    with (
        emulator_url(args.in_process, args.page_size) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        t0 = time.perf_counter()
        count = client.post(
            "/_emulator/populate", json={"service": "ml", "collection": COLLECTION, "count": args.items}
        ).json()["count"]
        populate_s = time.perf_counter() - t0
        client.headers["Authorization"] = f"Bearer {access_token(client)}"
        print(
            f"emulator {url} ({'in-process' if args.in_process else 'own process'}); "
            f"populated {count:,} ml jobs in {populate_s:.2f} s"
        )
        best = 0.0
        for r in range(1, args.rounds + 1):
            t0 = time.perf_counter()
            items, pages = read_all(client, args.page_size)
            elapsed = time.perf_counter() - t0
            rate = pages / elapsed
            best = max(best, rate)
            size = len(client.get(f"/v1/{COLLECTION}", params={"pageSize": args.page_size}).content)
            print(
                f"round {r}: {items:,} items in {pages} pages of {args.page_size} ({size / 1024:.0f} KiB each)"
                f" in {elapsed:.2f} s: {rate:,.0f} pages/s, {items / elapsed:,.0f} items/s"
            )
        print(f"best: {best:,.0f} pages/s (target >= 1,000): {'OK' if best >= 1000 else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
