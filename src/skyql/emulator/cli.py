"""`skyql emulator`: serve the emulator until Ctrl-C or SIGTERM, printing its URL first."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8089, help="port to listen on; 0 picks a free one (default 8089)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data (default 0)")
    parser.add_argument(
        "--rows",
        type=int,
        default=5,
        help="items each collection under projects/demo-project starts with (default 5)",
    )
    parser.add_argument(
        "--page-size-cap",
        type=int,
        default=50,
        help="most items a list page holds, whatever pageSize asks (default 50)",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to every API call (default 0)")
    parser.add_argument(
        "--operation-polls",
        type=int,
        default=2,
        help="reads of a long-running operation before it is done (default 2)",
    )
    parser.add_argument(
        "--make-key",
        metavar="FILE",
        help="write a service-account key file for this emulator to FILE, and keep serving",
    )
    parser.add_argument(
        "--replace-key",
        action="store_true",
        help="let --make-key replace an existing FILE (a symlink is replaced, never followed)",
    )
    parser.add_argument("--no-auth", action="store_true", help="accept calls without an access token")
    parser.add_argument(
        "--gzip",
        action="store_true",
        help="compress answers as Google does, for clients that ask (Accept-Encoding: gzip and "
        "'gzip' in the User-Agent)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault, e.g. status=429,count=3,match=/jobs or drop=true,count=1 or "
        "delay_ms=500; repeatable (POST /_emulator/faults does the same at run time)",
    )


def parse_fault(spec: str) -> dict[str, object]:
    """`status=429,count=3,match=:cancel,retry_after=2` -> keyword arguments of Emulator.inject."""
    kinds = {
        "status": int,
        "count": int,
        "match": str,
        "retry_after": float,
        "delay_ms": int,
        "drop": _flag,
        "in_operation": _flag,
        "probability": float,
        "seed": int,
    }
    out: dict[str, object] = {}
    for part in filter(None, spec.split(",")):
        key, sep, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in kinds:
            raise ValueError(f"bad --fault {spec!r}: expected KEY=VALUE pairs with keys {', '.join(kinds)}")
        out[key] = kinds[key](value.strip())
    return out


def _flag(value: str) -> bool:
    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"expected true or false, not {value!r}")
    return value.lower() in ("true", "1", "yes")


def run(args: argparse.Namespace) -> int:
    if args.page_size_cap < 1 or args.rows < 0 or args.latency_ms < 0 or args.operation_polls < 0:
        print(
            "skyql emulator: --page-size-cap must be >= 1; --rows, --latency-ms and --operation-polls >= 0",
            file=sys.stderr,
        )
        return 2
    try:
        faults = [parse_fault(spec) for spec in args.fault]
    except ValueError as exc:
        print(f"skyql emulator: {exc}", file=sys.stderr)
        return 2
    from skyql.emulator.emulator import Emulator

    emu = Emulator(
        seed=args.seed,
        rows=args.rows,
        page_size_cap=args.page_size_cap,
        latency_ms=args.latency_ms,
        host=args.host,
        port=args.port,
        require_auth=not args.no_auth,
        operation_polls=args.operation_polls,
        gzip=args.gzip,
    )
    try:
        for fault in faults:
            emu.inject(**fault)  # type: ignore[arg-type]
    except ValueError as exc:
        print(f"skyql emulator: bad --fault: {exc}", file=sys.stderr)
        return 2
    try:
        emu.start()
    except OSError as exc:
        print(
            f"skyql emulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
            "pick another --port (0 picks a free one)",
            file=sys.stderr,
        )
        return 1
    print(f"skyql emulator serving on {emu.url}", flush=True)
    if args.make_key:
        try:
            written = emu.make_key(args.make_key, replace=args.replace_key)
        except FileExistsError:
            emu.stop()
            print(
                f"skyql emulator: {args.make_key} already exists: pick another --make-key FILE, or add"
                " --replace-key to replace it",
                file=sys.stderr,
            )
            return 1
        except OSError as exc:
            emu.stop()
            print(
                f"skyql emulator: cannot write the key to {args.make_key}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
        print(f"service-account key written to {written}", flush=True)
    elif not args.no_auth:
        print(
            "calls need an access token: add --make-key key.json for a key whose token_uri is this emulator, "
            "or --no-auth",
            flush=True,
        )
    print(
        f'try: skyql exec --endpoint google={emu.url} --auth \'{{"google": {{"type": "service_account", '
        f'"credentialsfilepath": "{args.make_key or "key.json"}"}}}}\' "SELECT jobId, state FROM '
        "google.ml.jobs WHERE projectsId = 'demo-project'\"",
        flush=True,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        emu.stop()
    print("skyql emulator stopped", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skyql emulator", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
