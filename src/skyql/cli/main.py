"""`skyql` command line: exec, shell, emulator, registry. A thin layer over Session."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from skyql import __version__
from skyql.cli.logs import for_terminal, verbose_logging
from skyql.errors import ConfigError, SkyqlError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line hint (its default), and never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"skyql: error: {message}\n")


def _delimiter(text: str) -> str:
    """A csv delimiter: one character that cannot be confused with a quote or a line break."""
    if len(text) != 1 or text in '"\r\n':
        raise argparse.ArgumentTypeError(f"{text!r} is not a delimiter: give one character such as , ; or |")
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds more than 0")
    return value


def _endpoint(text: str) -> str:
    from skyql.session import parse_endpoint

    try:
        parse_endpoint(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _connection_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by `exec` and `shell`: where and how to reach the APIs."""
    p.add_argument(
        "--auth",
        help='auth JSON, e.g. {"google": {"type": "service_account", '
        '"credentialsfilepath": "key.json"}} (env SKYQL_AUTH)',
    )
    p.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="PROVIDER=URL",
        type=_endpoint,
        help="send a provider's requests to URL, e.g. google=http://127.0.0.1:8089 "
        "(env SKYQL_ENDPOINT_GOOGLE)",
    )
    p.add_argument(
        "--emulator", action="store_true", help="start the local Google API emulator in-process and query it"
    )
    p.add_argument("--concurrency", type=int, default=16, metavar="N", help="requests in flight (default 16)")
    p.add_argument("--retries", type=int, default=5, metavar="N", help="retries per request (default 5)")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="deadline per statement (default 600)",
    )
    p.add_argument("--page-size", type=int, metavar="N", help="pageSize to ask list methods for")
    p.add_argument("--no-pushdown", action="store_true", help="do not send Google's `fields` parameter")
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow sending credentials over plain http to a non-loopback host",
    )
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="return the rows of the partitions that succeeded, with a warning, when others fail",
    )
    p.add_argument(
        "--safe",
        action="store_true",
        help="turn off DuckDB's access to local files and extensions, jsonnet imports and REGISTRY PULL",
    )
    p.add_argument(
        "--max-response-mb",
        type=float,
        default=128.0,
        metavar="MB",
        help="largest API answer to read, counted decompressed (default 128)",
    )
    p.add_argument(
        "--allow-registry-pull",
        action="store_true",
        help="let REGISTRY PULL rewrite the installed registry even under --safe",
    )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="log every request, retry and token refresh to stderr (never a token)",
    )
    p.add_argument(
        "-o",
        "--output",
        choices=("table", "json", "csv", "text"),
        default="table",
        help="output format (default table)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="skyql", description="SQL over Google Cloud APIs.")
    parser.add_argument("--version", action="version", version=f"skyql {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    ex = sub.add_parser("exec", help="run SQL statements (a query or an .iql script) and print the results")
    ex.add_argument("query", nargs="?", help="SQL text (one or more statements separated by ;)")
    ex.add_argument("-i", "--infile", help="read statements from an .iql script file")
    ex.add_argument("-f", "--outfile", help="write results to FILE instead of stdout")
    ex.add_argument("-H", "--hideheaders", action="store_true", help="no header row (csv, text)")
    ex.add_argument("-d", "--delimiter", default=",", type=_delimiter, help="csv delimiter (default ,)")
    ex.add_argument(
        "--csv-safe",
        action="store_true",
        help="csv: prefix text cells that start with = + - @ tab or CR with ' (no spreadsheet formulas)",
    )
    ex.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="template variable")
    ex.add_argument("--iqldata", metavar="FILE", help="template variables from a JSON or YAML file")
    ex.add_argument(
        "--dryrun",
        action="store_true",
        help="print the rendered statements and the HTTP requests they would send; send nothing",
    )
    ex.add_argument(
        "--continue-on-error",
        action="store_true",
        help="in a script, report a failing statement and go on with the next",
    )
    _connection_flags(ex)

    sh = sub.add_parser("shell", help="interactive SQL shell")
    _connection_flags(sh)

    em = sub.add_parser("emulator", help="serve the local Google API emulator")
    try:
        from skyql.emulator.cli import add_arguments
    except ImportError:  # the emulator is optional at build time only
        add_arguments = None
    if add_arguments is not None:
        add_arguments(em)

    reg = sub.add_parser("registry", help="build, pull or list provider registries")
    regsub = reg.add_subparsers(dest="registry_command", metavar="ACTION", parser_class=_Parser)
    b = regsub.add_parser("build", help="generate a provider from discovery documents")
    b.add_argument("provider", choices=["google"])
    b.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="DIR",
        help="folder of discovery documents (<api>.<version>.json)",
    )
    b.add_argument("--out", metavar="DIR", help="providers folder to write (default: the active one)")
    pl = regsub.add_parser("pull", help="refresh a provider from Google's live Discovery API")
    pl.add_argument("provider", choices=["google"])
    pl.add_argument("--out", metavar="DIR", help="providers folder to write (default: the active one)")
    pl.add_argument("--discovery-url", help="Discovery directory URL (default: Google's)")
    pl.add_argument(
        "--force",
        action="store_true",
        help="replace the registry even when the directory lists no or far fewer APIs",
    )
    regsub.add_parser("list", help="list providers and their versions")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with verbose_logging(getattr(args, "verbose", False)):
        return _run(args, parser)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        if args.command == "exec":
            return _exec(args, parser)
        if args.command == "shell":
            from skyql.shell import run_shell

            return run_shell(_session(args), output=args.output)
        if args.command == "emulator":
            from skyql.emulator.cli import run

            return run(args)
        if args.command == "registry":
            return _registry(args, parser)
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    except SkyqlError as err:
        print(f"skyql: {for_terminal(str(err))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as stop:
        from skyql.cli.script import Terminated

        if isinstance(stop, Terminated):  # SIGTERM while writing --outfile, after its cleanup
            print("skyql: terminated", file=sys.stderr)
            return 128 + 15
        print("skyql: cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _session(args: argparse.Namespace) -> Any:
    from skyql.session import Session, build_options, parse_endpoint

    options = build_options(
        args.auth,
        dict(parse_endpoint(e) for e in args.endpoint),
        emulator=args.emulator,
        concurrency=args.concurrency,
        retries=args.retries,
        timeout=args.timeout,
        page_size=args.page_size,
        dryrun=getattr(args, "dryrun", False),
        safe=args.safe,
        insecure=args.insecure,
        allow_partial=args.allow_partial,
        pushdown=not args.no_pushdown,
        allow_registry_pull=True if args.allow_registry_pull else None,
        max_response_mb=args.max_response_mb,
    )
    return Session(options, emulator=args.emulator)


def _exec(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from skyql.cli.script import load_variables, run_script

    if (args.query is None) == (args.infile is None):
        parser.error("exec needs either a SQL string or -i FILE (not both)")
    if args.infile:
        path = Path(args.infile)
        if not path.is_file():
            raise ConfigError(f"no such script file: {args.infile}")
        text = path.read_text(encoding="utf-8")
    else:
        text = args.query
    variables = load_variables(args.var, args.iqldata, safe=args.safe)
    with _session(args) as session:
        return run_script(session, text, variables, args)


def _registry(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from skyql.registry.loader import default_providers_dir

    if args.registry_command == "build":
        from skyql.registry.build import build_provider

        out = Path(args.out) if args.out else default_providers_dir()
        source = Path(args.source)
        if not source.is_dir():
            raise ConfigError(f"no such folder of discovery documents: {args.source}")
        index = build_provider(source, out / "google", out / "google" / "overlay.json")
        print(f"google {index['version']}: {len(index['services'])} services written to {out / 'google'}")
        return EXIT_OK
    if args.registry_command == "pull":
        from skyql.registry.pull import pull_provider

        out = Path(args.out) if args.out else default_providers_dir()
        kwargs = {"discovery_url": args.discovery_url} if args.discovery_url else {}
        index = pull_provider(args.provider, out, force=args.force, **kwargs)
        print(f"google {index['version']}: {len(index['services'])} services written to {out / 'google'}")
        return EXIT_OK
    if args.registry_command == "list":
        from skyql.cli.output import render
        from skyql.metadata import registry_list
        from skyql.registry import Registry
        from skyql.sql.statements import RegistryList

        sys.stdout.write(render(registry_list(RegistryList("REGISTRY LIST"), Registry())))
        return EXIT_OK
    parser.error("registry needs an action: build, pull or list")
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
