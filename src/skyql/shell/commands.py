"""Meta-commands (`\\d google.ml.jobs`, `help`, `\\o json`): registered with a decorator, answering Results.

A command answers in the same shape as a SQL statement, so the shell renders both the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from skyql.errors import ConfigError, SqlError
from skyql.result import Result

FORMATS = ("table", "json", "csv", "text")


class ExitShell(Exception):  # noqa: N818 - a signal, not an error
    """Raised by quit/exit/\\q to leave the shell."""


@dataclass
class ShellState:
    """What commands may read and change: the session, the output format, timing, the screen."""

    session: Any
    output: str = "table"
    timing: bool = False
    clear_screen: Callable[[], None] = field(default=lambda: None)


Handler = Callable[[ShellState, str, bool], Result]


@dataclass(frozen=True)
class Command:
    name: str  # the canonical spelling: \d
    aliases: tuple[str, ...]
    arg: str  # usage of the argument: RESOURCE, [on|off], ''
    description: str
    handler: Handler
    completes: str = ""  # what its argument is: resource, service, or '' (then `choices`)
    choices: tuple[str, ...] = ()


# Every spelling -> its command. Backslash names are case-sensitive (\d is not \D); words are not.
COMMANDS: dict[str, Command] = {}


def command(
    name: str,
    *aliases: str,
    arg: str = "",
    description: str,
    completes: str = "",
    choices: tuple[str, ...] = (),
) -> Callable[[Handler], Handler]:
    """Register a meta-command under its name and aliases."""

    def register(handler: Handler) -> Handler:
        cmd = Command(name, aliases, arg, description, handler, completes, choices)
        for spelling in (name, *aliases):
            COMMANDS[spelling] = cmd
        return handler

    return register


def find(text: str) -> tuple[Command, str, bool] | None:
    """The command `text` invokes with its argument and `+` flag; None when `text` is not a command."""
    stripped = text.strip().rstrip(";").strip()
    head, _, arg = stripped.partition(" ")
    if not head:
        return None
    extended = head.endswith("+") and len(head) > 2
    name = head[:-1] if extended else head
    if name.startswith("\\"):
        cmd = COMMANDS.get(name)
        if cmd is None:
            raise SqlError(f"unknown command {head}; \\? lists the commands")
        return cmd, arg.strip(), extended
    cmd = COMMANDS.get(name.lower())
    if cmd is None or "\n" in stripped:
        return None
    return cmd, arg.strip(), extended


def is_command(text: str) -> bool:
    """True when `text` is a meta-command (it runs on Enter, without a `;`)."""
    head = text.lstrip().partition(" ")[0].partition("\n")[0].rstrip(";")
    return head.startswith("\\") or head.rstrip("+").lower() in COMMANDS


def run(state: ShellState, text: str) -> Result:
    """Run the meta-command in `text` (which `is_command`)."""
    found = find(text)
    if found is None:
        raise SqlError(f"not a command: {text.strip()}; \\? lists the commands")
    cmd, arg, extended = found
    return cmd.handler(state, arg, extended)


def _message(text: str) -> Result:
    return Result(columns=[], types=[], rows=[], message=text)


def _need(arg: str, usage: str) -> str:
    if not arg:
        raise SqlError(f"usage: {usage}")
    return arg


# -- the commands --------------------------------------------------------------------------------------


@command("help", "\\?", "?", description="list these commands")
def _help(state: ShellState, arg: str, extended: bool) -> Result:
    rows, seen = [], set()
    for cmd in COMMANDS.values():
        if cmd.name in seen:
            continue
        seen.add(cmd.name)
        usage = f"{cmd.name} {cmd.arg}".strip()
        rows.append((usage, ", ".join(cmd.aliases), cmd.description))
    result = Result.of_strings(["command", "also", "description"], rows)
    result.message = (
        "SQL statements end with ; and may span lines. Tab completes names, Ctrl-R searches "
        "history, Ctrl-C cancels a running statement, Ctrl-D quits."
    )
    return result


@command("quit", "exit", "\\q", description="leave the shell")
def _quit(state: ShellState, arg: str, extended: bool) -> Result:
    raise ExitShell


@command(
    "\\o", "output", arg="[table|json|csv|text]", description="show or set the output format", choices=FORMATS
)
def _output(state: ShellState, arg: str, extended: bool) -> Result:
    if arg:
        if arg.lower() not in FORMATS:
            raise ConfigError(f"unknown output format {arg!r}: use table, json, csv or text")
        state.output = arg.lower()
    return _message(f"output format is {state.output}")


@command(
    "\\timing", arg="[on|off]", description="show or set timing of each statement", choices=("on", "off")
)
def _timing(state: ShellState, arg: str, extended: bool) -> Result:
    if not arg:
        state.timing = not state.timing
    elif arg.lower() in ("on", "off"):
        state.timing = arg.lower() == "on"
    else:
        raise ConfigError(f"\\timing takes on or off, not {arg!r}")
    return _message(f"timing is {'on' if state.timing else 'off'}")


@command("\\auth", description="credentials and endpoint in use (no secrets)")
def _auth(state: ShellState, arg: str, extended: bool) -> Result:
    session = state.session
    endpoint = session.options.endpoints.get("google") or "Google (default endpoints)"
    return Result.of_strings(
        ["provider", "endpoint", "credentials"], [("google", endpoint, session.credentials_summary())]
    )


@command(
    "\\d", arg="RESOURCE", description="columns of a resource (DESCRIBE; + for details)", completes="resource"
)
def _describe(state: ShellState, arg: str, extended: bool) -> Result:
    from skyql.sql.statements import Describe

    name = _need(arg, "\\d RESOURCE, e.g. \\d google.ml.jobs")
    return state.session.execute(Describe(f"DESCRIBE {name}", resource=name, extended=extended))


@command(
    "\\dm",
    arg="RESOURCE",
    description="methods of a resource (SHOW METHODS; + for details)",
    completes="resource",
)
def _methods(state: ShellState, arg: str, extended: bool) -> Result:
    from skyql.sql.statements import ShowMethods

    name = _need(arg, "\\dm RESOURCE, e.g. \\dm google.ml.jobs")
    return state.session.execute(ShowMethods(f"SHOW METHODS IN {name}", resource=name, extended=extended))


@command(
    "\\dr",
    arg="SERVICE",
    description="resources of a service (SHOW RESOURCES; + for details)",
    completes="service",
)
def _resources(state: ShellState, arg: str, extended: bool) -> Result:
    from skyql.sql.statements import ShowResources

    name = _need(arg, "\\dr SERVICE, e.g. \\dr google.ml")
    return state.session.execute(ShowResources(f"SHOW RESOURCES IN {name}", service=name, extended=extended))


@command("\\ds", arg="[PATTERN]", description="services of google (SHOW SERVICES), PATTERN as in LIKE")
def _services(state: ShellState, arg: str, extended: bool) -> Result:
    from skyql.sql.statements import ShowServices

    like = arg.strip("'\"") or None
    return state.session.execute(
        ShowServices("SHOW SERVICES IN google", provider="google", extended=extended, like=like)
    )


@command("clear", description="clear the screen")
def _clear(state: ShellState, arg: str, extended: bool) -> Result:
    state.clear_screen()
    return Result(columns=[], types=[], rows=[])
