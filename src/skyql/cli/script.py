"""Run a script (one or many statements) for `skyql exec`: templates, output, errors, --outfile."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from skyql.cli.output import render
from skyql.errors import ConfigError, SkyqlError
from skyql.result import Result

EXIT_OK, EXIT_ERROR = 0, 1


def load_variables(pairs: list[str], iqldata: str | None) -> dict[str, Any]:
    """Template variables: --iqldata file first, then --var NAME=VALUE (which wins)."""
    variables: dict[str, Any] = {}
    if iqldata:
        path = Path(iqldata)
        if not path.is_file():
            raise ConfigError(f"no such --iqldata file: {iqldata}")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as err:  # yaml and json raise different types; both are the user's file
            raise ConfigError(f"--iqldata {iqldata} is not valid {path.suffix.lstrip('.') or 'JSON'}: "
                              f"{str(err).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"--iqldata {iqldata} must hold an object of variables")
        variables.update(data)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"bad --var {pair!r}: use NAME=VALUE")
        variables[name.strip()] = value
    return variables


def run_script(session: Any, text: str, variables: dict[str, Any], args: argparse.Namespace) -> int:
    """Run every statement in order; stop at the first failure unless --continue-on-error."""
    from skyql.sql import parse_one, render_template, split_script

    rendered = render_template(text, variables)
    pieces = split_script(rendered)
    if not pieces:
        raise SkyqlError("empty statement: nothing to run; pass SQL such as SHOW SERVICES IN google")
    out, finish = _open_output(args.outfile)
    status = EXIT_OK
    try:
        for number, (sql, line) in enumerate(pieces, 1):
            try:
                statement = parse_one(sql)
                statement.line = line
                if args.dryrun:
                    out.write(f"-- statement {number} (line {line})\n{sql.strip()};\n")
                result = session.execute(statement)
            except SkyqlError as err:
                where = f"statement {number} (line {line})" if len(pieces) > 1 else ""
                print(f"skyql: {where + ': ' if where else ''}{err}", file=sys.stderr)
                status = EXIT_ERROR
                if not getattr(args, "continue_on_error", False):
                    break
                continue
            _emit(result, out, args)
    finally:
        finish(status == EXIT_OK or getattr(args, "continue_on_error", False))
    return status


def _emit(result: Result, out: TextIO, args: argparse.Namespace) -> None:
    for warning in result.warnings:
        print(f"skyql: warning: {warning}", file=sys.stderr)
    if result.message:
        # What a mutation did goes to stderr so stdout stays data, and a script's log tells the story.
        print(result.message, file=sys.stderr)
    if result.columns:
        out.write(render(result, args.output, headers=not args.hideheaders, delimiter=args.delimiter))
        out.flush()


def _open_output(outfile: str | None) -> tuple[TextIO, Any]:
    """stdout, or a temp file renamed over --outfile only on success: nothing is half written."""
    if not outfile:
        return sys.stdout, lambda ok: None
    target = Path(outfile)
    if not target.parent.exists():
        raise ConfigError(f"cannot write {outfile}: folder {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".skyql-", dir=target.parent)
    handle = os.fdopen(fd, "w", encoding="utf-8")

    def finish(ok: bool) -> None:
        handle.close()
        if ok:
            os.replace(tmp, target)
        else:
            os.unlink(tmp)

    return handle, finish
