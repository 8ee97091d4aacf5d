"""The shell's loop: read input (a terminal prompt or piped statements), run it, show the answer, go on.

prompt_toolkit is imported only for the interactive loop; piped input never loads it.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from skyql import __version__
from skyql.cli.logs import for_terminal
from skyql.cli.output import render
from skyql.errors import SkyqlError
from skyql.result import Result
from skyql.shell import commands
from skyql.shell.commands import ExitShell, ShellState
from skyql.shell.display import fit_table, show
from skyql.shell.progress import ProgressLine
from skyql.shell.tokens import significant, statement_complete, tokenize
from skyql.terminal import printable


class _Cancelled(Exception):  # noqa: N818 - control flow: Ctrl-C ends the rest of one input
    pass


class Shell:
    """Runs inputs against a session and prints their results; the prompt is separate (see prompt.py)."""

    def __init__(
        self,
        session: Any,
        output: str = "table",
        *,
        out: TextIO | None = None,
        err: TextIO | None = None,
        interactive: bool = True,
        page: bool = False,
        terminal_size: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        self.state = ShellState(session, output)
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.interactive = interactive
        self.page = page
        self.terminal_size = terminal_size or _terminal_size
        self.progress = ProgressLine(self.err)
        # The fetch layer reports pages, rows and requests here (see progress.py for the events).
        session.progress = self.progress

    @property
    def session(self) -> Any:
        return self.state.session

    # -- one input -------------------------------------------------------------------------------------
    def run_input(self, text: str, first_line: int = 1) -> bool:
        """Run a meta-command or one or more statements; False when something failed or was cancelled."""
        try:
            if commands.is_command(text):
                return self._run(lambda: commands.run(self.state, text), first_line)
            from skyql.sql import split_script

            try:
                pieces = split_script(text)
            except SkyqlError as err:
                self._error(err, first_line)
                return False
            ok = True
            for sql, line in pieces:
                ok = self._run(lambda sql=sql: self.session.execute(sql), first_line + line - 1) and ok
            return ok
        except _Cancelled:
            return False

    def _run(self, call: Callable[[], Result], line: int) -> bool:
        started = time.perf_counter()
        try:
            with self.progress:
                result = call()
        except ExitShell:
            raise
        except KeyboardInterrupt:
            if not self.interactive:
                raise  # piped input stops as a whole; the CLI reports it and exits 130
            # asyncio.run has already cancelled every task and request in flight by the time this arrives.
            print("cancelled", file=self.err)
            raise _Cancelled from None
        except SkyqlError as err:
            self._error(err, line)
            return False
        except Exception as err:  # the shell outlives its own bugs; the one line says what to report
            self._say(f"internal error ({type(err).__name__}): {err}", line)
            return False
        self._emit(result, time.perf_counter() - started)
        return True

    def _error(self, err: SkyqlError, line: int) -> None:
        self._say(f"error: {err}" if self.interactive else str(err), line)

    def _say(self, message: str, line: int) -> None:
        where = "" if self.interactive else f"skyql: line {line}: "
        print(where + for_terminal(message), file=self.err, flush=True)

    def _emit(self, result: Result, seconds: float) -> None:
        for warning in result.warnings:
            print(f"warning: {for_terminal(warning)}", file=self.err)
        # Piped output keeps stdout for data; at a terminal notes read best right under the rows.
        notes = self.out if self.interactive else self.err
        fmt = self.state.output
        if result.columns:
            if fmt == "table" and self.interactive:
                width, height = self.terminal_size()
                text = fit_table(result, width)
                text += _footer(result, seconds if self.state.timing else None)
            else:
                height = self.terminal_size()[1]
                text = render(result, fmt)
                if self.interactive:  # on the screen, json and csv values must not drive the terminal either
                    text = printable(text, newlines=True)
            show(text, self.out, page=self.page, height=height)
        if result.message:
            print(for_terminal(result.message), file=notes, flush=True)
        if self.state.timing and not (result.columns and fmt == "table" and self.interactive):
            print(f"time: {seconds:.3f} s", file=notes, flush=True)

    # -- loops -----------------------------------------------------------------------------------------
    def run_batch(self, text: str) -> int:
        """Run piped input to its end: 1 if any statement failed, else 0."""
        status = 0
        for chunk, line in input_chunks(text):
            try:
                if not self.run_input(chunk, line):
                    status = 1
            except ExitShell:
                break
        return status

    def run_interactive(self, history: Path | None = None) -> int:
        """Prompt, run, repeat, until quit or Ctrl-D."""
        from skyql.shell.prompt import clear_screen, make_prompt

        self.state.clear_screen = clear_screen
        prompt = make_prompt(lambda: self.session.registry, history)
        print(self.banner(), file=self.out, flush=True)
        while True:
            try:
                text = prompt()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt drops what was typed
            except EOFError:
                break
            if not text.strip():
                continue
            try:
                self.run_input(text)
            except ExitShell:
                break
            except KeyboardInterrupt:  # while a result was being printed: stop printing, keep the shell
                print("\ncancelled", file=self.err, flush=True)
        return 0

    def banner(self) -> str:
        emulator = getattr(self.session, "emulator", None)
        if emulator is not None:
            project = emulator.api.config.project
            return (
                f"skyql emulator at {emulator.url}: every Google API, local demo data. Try: "
                f"SELECT jobId, state FROM google.ml.jobs WHERE projectsId = '{project}';"
            )
        return f"skyql {__version__}: statements end with ;  \\? for help, \\q to quit."


def _terminal_size() -> tuple[int, int]:
    size = shutil.get_terminal_size()
    return size.columns, size.lines


def _footer(result: Result, seconds: float | None) -> str:
    count = len(result.rows)
    text = f"{count} row{'s' if count != 1 else ''}"
    return text + (f" in {seconds:.3f} s" if seconds is not None else "") + "\n"


def input_chunks(text: str) -> Iterator[tuple[str, int]]:
    """Cut piped input into runnable pieces: a meta-command line alone, SQL up to the next command line."""
    pending: list[str] = []
    start = 1
    for number, line in enumerate(text.splitlines(), 1):
        if commands.is_command(line) and _between_statements(pending):
            if pending:
                yield "\n".join(pending), start
            yield line, number
            pending, start = [], number + 1
            continue
        if not pending:
            start = number
        pending.append(line)
    if pending and significant(tokenize("\n".join(pending))):
        yield "\n".join(pending), start


def _between_statements(lines: list[str]) -> bool:
    text = "\n".join(lines)
    return not significant(tokenize(text)) or statement_complete(text)
