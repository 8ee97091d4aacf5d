"""Run a script (one or many statements) for `skyql exec`: templates, output, errors, --outfile."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from skyql.cli.logs import for_terminal
from skyql.cli.output import render
from skyql.errors import ConfigError, SkyqlError, SqlError
from skyql.result import Result

if TYPE_CHECKING:
    from skyql.sql.script import Piece

EXIT_OK, EXIT_ERROR = 0, 1


def load_variables(pairs: list[str], iqldata: str | None, *, safe: bool = False) -> dict[str, Any]:
    """Template variables: --iqldata file first, then --var NAME=VALUE (which wins)."""
    given: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"bad --var {pair!r}: use NAME=VALUE")
        given[name.strip()] = _var_value(value)
    variables: dict[str, Any] = {}
    if iqldata:
        variables.update(_read_iqldata(iqldata, given, safe))
    variables.update(given)
    return variables


def _read_iqldata(iqldata: str, given: dict[str, Any], safe: bool) -> dict[str, Any]:
    path = Path(iqldata)
    if not path.is_file():
        raise ConfigError(f"no such --iqldata file: {iqldata}")
    if path.suffix.lower() in (".jsonnet", ".libsonnet"):
        from skyql.sql import datablocks

        try:
            data = datablocks.load_file(path, given, imports=not safe)
        except SqlError as err:
            raise ConfigError(str(err)) from None
        if not isinstance(data, dict):
            raise ConfigError(f"--iqldata {iqldata} must give an object of variables (name: value)")
        return data
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as err:  # yaml and json raise different types; both are the user's file
        raise ConfigError(
            f"--iqldata {iqldata} is not valid {path.suffix.lstrip('.') or 'JSON'}: "
            f"{str(err).splitlines()[0]}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"--iqldata {iqldata} must hold an object of variables (name: value)")
    return data


def _var_value(value: str) -> Any:
    """A --var value is text, except a JSON list or object, so that a loop can run over it."""
    if value.lstrip().startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


@dataclass
class _Step:
    """One statement of the script, parsed before anything runs."""

    number: int
    line: int  # in the script as written (the template), when it can be told; else in the rendered text
    sql: str
    statement: Any = None
    error: SkyqlError | None = None


def run_script(session: Any, text: str, variables: dict[str, Any], args: argparse.Namespace) -> int:
    """Run every statement in order; stop at the first failure unless --continue-on-error."""
    steps = _prepare(text, variables, args)
    many = len(steps) > 1
    keep_going = bool(getattr(args, "continue_on_error", False))
    failed = [s for s in steps if s.error is not None]
    if failed and not keep_going:
        # Every statement is parsed first: a typo near the end must not leave the start half done.
        for step in failed:
            _report(step, step.error, many)
        if many:
            print(
                "skyql: nothing was run: fix the statement{'s' if len(failed) > 1 else ''} above "
                "(or pass --continue-on-error to run the others)",
                file=sys.stderr,
            )
        return EXIT_ERROR
    out, finish, streamed = _open_output(args.outfile)
    ok = False
    try:
        for step in steps:
            if args.dryrun:
                sql = for_terminal(step.sql.strip())
                out.write(f"-- statement {step.number} (line {step.line})\n{sql};\n")
            if step.error is None:
                try:
                    result = session.execute(step.statement)
                except SkyqlError as err:
                    step.error = err
                else:
                    _emit(result, out, args)
                    continue
            _report(step, step.error, many)
            if not keep_going:
                _report_skipped(steps, step)
                break
        ok = not any(s.error is not None for s in steps)
    finally:
        finish(ok)
    if not ok and args.outfile:
        what = "may hold part of the output" if streamed else "left unchanged"
        print(f"skyql: {args.outfile} {what} because a statement failed", file=sys.stderr)
    return EXIT_OK if ok else EXIT_ERROR


def wants_templates(args: argparse.Namespace) -> bool:
    """Templates render only when asked for: an -i script, or --var / --iqldata. Plain SQL stays plain."""
    return bool(getattr(args, "infile", None) or getattr(args, "var", None) or getattr(args, "iqldata", None))


def _prepare(text: str, variables: dict[str, Any], args: argparse.Namespace) -> list[_Step]:
    """Render the template once (an undefined variable fails here, before any request), split, and parse."""
    from skyql.sql import parse_one
    from skyql.sql.script import pieces
    from skyql.sql.template import render_script

    if wants_templates(args):
        infile = getattr(args, "infile", None)
        folder = Path(infile).resolve().parent if infile else None
        done = render_script(text, variables, folder=folder, imports=not getattr(args, "safe", False))
        rendered, origin = done.text, done.origin
    else:
        if text.lstrip().startswith("<<<"):
            raise SqlError(
                "a <<<jsonnet block is template data: templates render for -i scripts, or with "
                "--var / --iqldata"
            )
        rendered, origin = text, None
    found = pieces(rendered)
    if not found:
        raise SkyqlError("empty statement: nothing to run; pass SQL such as SHOW SERVICES IN google")
    steps = []
    for number, piece in enumerate(found, 1):
        step = _Step(number, origin[piece.line - 1] if origin else piece.line, piece.text)
        try:
            step.statement = parse_one(piece.text)
            step.statement.line = step.line
        except SqlError as err:
            step.error = _in_script(err, piece, origin)
        except SkyqlError as err:
            step.error = err
        steps.append(step)
    return steps


_POSITION = re.compile(r"line (\d+), column (\d+)")


def _in_script(error: SqlError, piece: Piece, origin: list[int] | None) -> SqlError:
    """The parser counts lines and columns from the statement's start; an editor counts from the file's."""

    def move(match: re.Match[str]) -> str:
        line, column = int(match.group(1)), int(match.group(2))
        if line == 1:
            column += piece.start - (piece.source.rfind("\n", 0, piece.start) + 1)
        rendered = piece.line + line - 1
        in_file = origin[min(rendered, len(origin)) - 1] if origin else rendered
        return f"line {in_file}, column {column}"

    return SqlError(_POSITION.sub(move, str(error), count=1))


def _report(step: _Step, error: SkyqlError | None, many: bool) -> None:
    where = f"statement {step.number} (line {step.line}): " if many else ""
    print(f"skyql: {where}{for_terminal(str(error))}", file=sys.stderr)


def _report_skipped(steps: list[_Step], failed: _Step) -> None:
    rest = len(steps) - failed.number
    if rest > 0:
        first = failed.number + 1
        what = f"statement {first}" if rest == 1 else f"statements {first}-{len(steps)}"
        print(f"skyql: {what} not run (--continue-on-error goes on after a failure)", file=sys.stderr)


def _emit(result: Result, out: TextIO, args: argparse.Namespace) -> None:
    for warning in result.warnings:
        print(f"skyql: warning: {for_terminal(warning)}", file=sys.stderr)
    if result.message:
        # What a mutation did goes to stderr so stdout stays data, and a script's log tells the story.
        print(for_terminal(result.message), file=sys.stderr)
    if result.columns:
        out.write(
            render(
                result,
                args.output,
                headers=not args.hideheaders,
                delimiter=args.delimiter,
                csv_safe=getattr(args, "csv_safe", False),
            )
        )
        out.flush()


class Terminated(KeyboardInterrupt):
    """SIGTERM while writing --outfile: unwinds like Ctrl-C, so the temporary file is removed."""


def _open_output(outfile: str | None) -> tuple[TextIO, Callable[[bool], None], bool]:
    """Where results go, what to do when done (ok or not), and whether it is streamed (not atomic).

    A regular file (or a new one) is written to a temporary file renamed over it only on success, so it is
    never half written; through a symlink, the file it points to is replaced and the link kept. Anything
    else (a FIFO, /dev/stdout, a terminal, bash's `>(cmd)`) is written to as it goes: it cannot be renamed.
    """
    if not outfile:
        return sys.stdout, lambda ok: None, False
    path = Path(outfile)
    try:
        info: os.stat_result | None = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as err:
        raise ConfigError(f"cannot write {outfile}: {err.strerror}") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"cannot write {outfile}: it is a folder; give a file name")
    if (info is not None and not stat.S_ISREG(info.st_mode)) or _device_path(path):
        return _stream(path, outfile)
    return _atomic(Path(os.path.realpath(path)), info, outfile)


def _device_path(path: Path) -> bool:
    """/dev/stdout, /dev/fd/N, /proc/self/fd/N: names of an open file, even when that file is regular."""
    return os.path.abspath(path).startswith(("/dev/", "/proc/"))


def _stream(path: Path, outfile: str) -> tuple[TextIO, Callable[[bool], None], bool]:
    try:
        handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by finish(); a FIFO waits for a reader
    except OSError as err:
        raise ConfigError(f"cannot write {outfile}: {err.strerror}") from None

    def finish(ok: bool) -> None:
        with contextlib.suppress(BrokenPipeError):
            handle.close()

    return handle, finish, True


def _atomic(
    target: Path, info: os.stat_result | None, outfile: str
) -> tuple[TextIO, Callable[[bool], None], bool]:
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {outfile}: folder {target.parent} does not exist")
    # The file keeps its mode; a new one gets the mode `>` would give it, not mkstemp's 0600.
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=".skyql-", dir=target.parent)
    except OSError as err:
        raise ConfigError(f"cannot write {outfile}: {err.strerror}") from None
    os.fchmod(fd, mode)
    handle = os.fdopen(fd, "w", encoding="utf-8")
    restore = _on_sigterm_unwind()

    def finish(ok: bool) -> None:
        try:
            handle.close()
            if ok:
                os.replace(tmp, target)
            else:
                os.unlink(tmp)
        finally:
            restore()

    return handle, finish, False


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _on_sigterm_unwind() -> Callable[[], None]:
    """Until the returned function is called, SIGTERM raises Terminated (so `finally` blocks clean up)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)
