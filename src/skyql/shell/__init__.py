"""`skyql shell`: an interactive SQL prompt at a terminal, a statement runner when stdin is piped."""

from __future__ import annotations

import sys
from typing import Any


def run_shell(session: Any, output: str = "table") -> int:
    """Run the shell over `session` until quit or end of input; the exit status (1: a piped statement failed)."""
    from skyql.shell.repl import Shell

    try:
        if not sys.stdin.isatty():
            shell = Shell(session, output, interactive=False)
            return shell.run_batch(sys.stdin.read())
        shell = Shell(session, output, interactive=True, page=sys.stdout.isatty())
        return shell.run_interactive()
    finally:
        session.close()


__all__ = ["run_shell"]
