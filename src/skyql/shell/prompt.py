"""The terminal side of the shell: prompt_toolkit's prompt with history, completion and highlighting."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.application import get_app
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, ThreadedCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.shortcuts import clear

from skyql.registry import Registry
from skyql.shell.catalog import Catalog
from skyql.shell.commands import is_command
from skyql.shell.completion import suggest
from skyql.shell.tokens import statement_complete

PROMPT = "skyql> "
CONTINUATION = "   ...> "


def history_path(env: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """$XDG_STATE_HOME/skyql/history, by default ~/.local/state/skyql/history."""
    state = Path(env.get("XDG_STATE_HOME") or "")
    if not state.is_absolute():  # the XDG spec: a relative value is invalid and must be ignored
        state = Path.home() / ".local" / "state"
    return state / "skyql" / "history"


def open_history(path: Path) -> History:
    """A history file only the user can read (statements may hold values worth keeping private)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


def ready(text: str) -> bool:
    """Whether Enter runs the input: a finished statement, a meta-command, or nothing at all."""
    return not text.strip() or is_command(text) or statement_complete(text)


class SkyqlCompleter(Completer):
    """A thin adapter from `suggest` to prompt_toolkit."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        try:
            items = suggest(document.text_before_cursor, document.text, self.catalog)
        except Exception:  # noqa: BLE001 - a completion bug must cost a menu, never the session
            return
        typed = bool(items) and items[0].start < 0
        if not complete_event.completion_requested and not typed and all(s.kind == "keyword" for s in items):
            return  # a whole keyword list after every space is noise; Tab still shows it
        for s in items:
            yield Completion(s.text, start_position=s.start, display_meta=s.meta)


class SqlHighlighter(Lexer):
    """pygments' SqlLexer, loaded on the first keystroke so it costs nothing before the first prompt."""

    def __init__(self) -> None:
        self._lexer: Lexer | None = None

    def lex_document(self, document: Document) -> Callable[[int], list[tuple[str, str]]]:
        if not document.text:
            return lambda lineno: []
        if self._lexer is None:
            self._lexer = _sql_lexer()
        return self._lexer.lex_document(document)  # type: ignore[return-value]


def _sql_lexer() -> Lexer:
    try:
        from prompt_toolkit.lexers import PygmentsLexer
        from pygments.lexers.sql import SqlLexer
    except ImportError:  # pygments is optional: without it the input is plain text
        from prompt_toolkit.lexers import SimpleLexer

        return SimpleLexer()
    return PygmentsLexer(SqlLexer)


def make_prompt(registry: Callable[[], Registry], history: Path | None = None) -> Callable[[], str]:
    """A function that shows the prompt and returns the input once it is ready to run."""
    catalog = Catalog(registry)
    session: PromptSession[str] = PromptSession(
        message=PROMPT,
        prompt_continuation=CONTINUATION,
        multiline=Condition(lambda: not ready(get_app().current_buffer.text)),
        history=open_history(history or history_path()),
        auto_suggest=AutoSuggestFromHistory(),
        completer=ThreadedCompleter(SkyqlCompleter(catalog)),
        complete_while_typing=True,
        lexer=SqlHighlighter(),
        search_ignore_case=True,
        enable_history_search=False,  # Up walks history line by line; Ctrl-R searches it
    )
    warmed = threading.Event()

    def warm() -> None:
        # Once the first prompt is on screen, read the service index so `google.` completes at once, then
        # import what a first query needs (SQL, planner, DuckDB, HTTP, auth: ~0.3 s) while the user types it.
        if not warmed.is_set():
            warmed.set()
            threading.Thread(
                target=_quietly(catalog.warm, preload_query_stack), name="skyql-warm", daemon=True
            ).start()

    return lambda: session.prompt(pre_run=warm)


def preload_query_stack() -> None:
    """Import the modules a SELECT runs through, so the first one does not wait for them."""
    import aiohttp  # noqa: F401
    import google.oauth2.service_account  # noqa: F401 - imported lazily by skyql.fetch (a cached token needs none)
    import httpx  # noqa: F401

    import skyql.engine  # noqa: F401
    import skyql.fetch  # noqa: F401
    import skyql.plan.select  # noqa: F401
    import skyql.sql.parser  # noqa: F401


def _quietly(*calls: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        for call in calls:
            with contextlib.suppress(Exception):  # warming is an optimisation; the query reports real errors
                call()

    return run


def clear_screen() -> None:
    clear()
