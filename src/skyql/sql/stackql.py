"""StackQL's own statements (SHOW, DESCRIBE, REGISTRY, EXEC): a small recursive-descent parser over tokens."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import Token, TokenType

from skyql.errors import SqlError
from skyql.sql import statements as st
from skyql.sql.dialect import DIALECT
from skyql.sql.script import Piece, parse_error, position

_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")

# What each kind of name looks like, for messages: (parts, shape, example).
PROVIDER = (1, "<provider>", "google")
SERVICE = (2, "<provider>.<service>", "google.aiplatform")
RESOURCE = (3, "<provider>.<service>.<resource>", "google.aiplatform.hyperparameter_tuning_jobs")
METHOD = (4, "<provider>.<service>.<resource>.<method>", "google.ml.jobs.cancel")
Shape = tuple[int, str, str]

SHOW_FORMS = (
    "SHOW PROVIDERS, SHOW SERVICES IN google, SHOW RESOURCES IN google.aiplatform, "
    "SHOW METHODS IN google.ml.jobs or SHOW INSERT INTO google.ml.jobs"
)


class Cursor:
    """A position in one statement's tokens, with helpers that raise SqlErrors pointing at the source."""

    def __init__(self, piece: Piece) -> None:
        self.piece = piece
        self.tokens = piece.tokens
        self.pos = 0

    @property
    def current(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.current
        return token is not None and is_word(token) and token.text.upper() in words

    def accept_word(self, *words: str) -> str | None:
        if self.at_word(*words):
            return self.advance().text.upper()
        return None

    def accept(self, kind: TokenType) -> Token | None:
        token = self.current
        if token is not None and token.token_type == kind:
            return self.advance()
        return None

    def where(self, token: Token | None = None) -> str:
        token = token or self.current
        if token is None:
            return "at the end of the statement"
        line, col = position(self.piece.source, token.start)
        return f"at line {line}, column {col}"

    def error(self, message: str) -> SqlError:
        return SqlError(f"{message}; found {describe(self.current)} {self.where()}")

    def finish(self, statement: str, usage: str) -> None:
        if self.current is not None:
            raise SqlError(
                f"unexpected {describe(self.current)} {self.where()} in {statement}: expected {usage}"
            )

    def name(self, statement: str, shape: Shape) -> str | None:
        """A dotted name with the given number of parts; None if no name is written here."""
        parts, first, last = self._name_parts()
        if first is None or last is None:
            return None
        count, pattern, example = shape
        if len(parts) != count or not all(parts):
            raw = self.piece.source[first.start : last.end + 1]
            noun = "part" if count == 1 else "parts"
            raise SqlError(
                f"{statement} needs a name of the form {pattern} ({count} {noun}), e.g. {example}; "
                f"got {raw!r} {self.where(first)}"
            )
        return ".".join(parts)

    def _name_parts(self) -> tuple[list[str], Token | None, Token | None]:
        parts: list[str] = []
        first = last = None
        expect_part = True
        while (token := self.current) is not None:
            if expect_part and is_name(token):
                # A quoted part may itself hold dots: `google.ml.jobs` reads as three parts.
                parts.extend(
                    token.text.split(".") if token.token_type == TokenType.IDENTIFIER else [token.text]
                )
                expect_part = False
            elif token.token_type == TokenType.DOT:
                if expect_part:
                    parts.append("")
                expect_part = True
            else:
                break
            first = first or token
            last = self.advance()
        if first is not None and expect_part:
            parts.append("")  # a trailing dot
        return parts, first, last

    def require_name(self, statement: str, shape: Shape, usage: str) -> str:
        name = self.name(statement, shape)
        if name is None:
            raise SqlError(f"{statement} needs {usage}")
        return name


def is_word(token: Token) -> bool:
    """A bare word (keyword or unquoted name), as opposed to a quoted name, literal or symbol."""
    return token.token_type not in (TokenType.IDENTIFIER, TokenType.STRING) and bool(
        _BARE_NAME.match(token.text)
    )


def is_name(token: Token) -> bool:
    return token.token_type == TokenType.IDENTIFIER or is_word(token)


def describe(token: Token | None) -> str:
    if token is None:
        return "nothing"
    if token.token_type == TokenType.STRING:
        return f"'{token.text}'"
    return repr(token.text)


# -- SHOW -----------------------------------------------------------------------------------------


def parse_show(cur: Cursor) -> st.Statement:
    cur.advance()  # SHOW
    if cur.accept_word("INSERT"):
        return _show_insert(cur)
    extended = cur.accept_word("EXTENDED") is not None
    what = cur.accept_word("PROVIDERS", "SERVICES", "RESOURCES", "METHODS")
    if what is None:
        if cur.current is None:
            raise SqlError(f"SHOW needs what to show: use {SHOW_FORMS}")
        shown = "SHOW" + (" EXTENDED" if extended else "") + f" {cur.current.text.upper()}"
        raise SqlError(f"{shown} is not supported: use {SHOW_FORMS}")
    text = cur.piece.text
    if what == "PROVIDERS":
        if extended:
            raise SqlError("SHOW EXTENDED PROVIDERS is not supported: use SHOW PROVIDERS")
        like, where = _like_or_where(cur, "SHOW PROVIDERS")
        return st.ShowProviders(text, like=like, where=where)
    shape = {"SERVICES": PROVIDER, "RESOURCES": SERVICE, "METHODS": RESOURCE}[what]
    statement = f"SHOW {what}"
    usage = f"IN {shape[1]}, e.g. SHOW {what} IN {shape[2]}"
    # FROM as well as IN, as StackQL (and MySQL's SHOW TABLES FROM db) take both.
    keyword = cur.accept(TokenType.IN) or cur.accept(TokenType.FROM)
    if keyword is None:
        if cur.current is not None and is_name(cur.current):
            raise cur.error(f"{statement} needs IN before the name, e.g. SHOW {what} IN {shape[2]}")
        raise SqlError(f"{statement} needs {usage}")
    name = cur.require_name(f"{statement} {keyword.text.upper()}", shape, usage)
    like, where = _like_or_where(cur, statement)
    if what == "SERVICES":
        return st.ShowServices(text, provider=name, extended=extended, like=like, where=where)
    if what == "RESOURCES":
        return st.ShowResources(text, service=name, extended=extended, like=like, where=where)
    return st.ShowMethods(text, resource=name, extended=extended, like=like, where=where)


def _show_insert(cur: Cursor) -> st.ShowInsert:
    usage = f"INTO {RESOURCE[1]}, e.g. SHOW INSERT INTO google.ml.jobs"
    if not cur.accept(TokenType.INTO):
        raise SqlError(f"SHOW INSERT needs {usage}")
    name = cur.require_name("SHOW INSERT INTO", RESOURCE, usage)
    cur.finish("SHOW INSERT", "nothing after the resource name")
    required = any(h.word == "REQUIRED" for h in cur.piece.hints)
    return st.ShowInsert(cur.piece.text, resource=name, required_only=required)


def _like_or_where(cur: Cursor, statement: str) -> tuple[str | None, exp.Expression | None]:
    if cur.accept(TokenType.LIKE):
        pattern = cur.accept(TokenType.STRING)
        if pattern is None:
            raise cur.error(f"{statement} LIKE needs a quoted pattern, e.g. LIKE '%jobs%'")
        cur.finish(statement, "nothing after the LIKE pattern")
        return pattern.text, None
    if cur.accept(TokenType.WHERE):
        if cur.current is None:
            raise SqlError(f"{statement} WHERE needs a condition, e.g. WHERE name LIKE '%jobs%'")
        return None, _condition(cur)
    cur.finish(statement, "LIKE 'pattern' or WHERE <condition>")
    return None, None


def _condition(cur: Cursor) -> exp.Expression:
    rest = cur.tokens[cur.pos :]
    try:
        parsed = DIALECT.parser().parse_into(exp.Condition, rest, cur.piece.source)
    except ParseError as err:
        raise parse_error(err) from None
    cur.pos = len(cur.tokens)
    return parsed[0]


# -- DESCRIBE ---------------------------------------------------------------------------------


def parse_describe(cur: Cursor) -> st.Statement:
    cur.advance()  # DESCRIBE / DESC
    text = cur.piece.text
    extended = cur.accept_word("EXTENDED") is not None
    if _at_method_keyword(cur):
        cur.advance()
        extended = cur.accept_word("EXTENDED") is not None or extended
        usage = f"a method name, e.g. DESCRIBE METHOD {METHOD[2]}"
        name = cur.require_name("DESCRIBE METHOD", METHOD, usage)
        cur.finish("DESCRIBE METHOD", "nothing after the method name")
        return st.DescribeMethod(text, method=name, extended=extended)
    usage = f"a resource name, e.g. DESCRIBE {RESOURCE[2]}"
    name = cur.require_name("DESCRIBE", RESOURCE, usage)
    cur.finish("DESCRIBE", "nothing after the resource name")
    return st.Describe(text, resource=name, extended=extended)


def _at_method_keyword(cur: Cursor) -> bool:
    """METHOD as a keyword, not the first part of a dotted name."""
    if not cur.at_word("METHOD"):
        return False
    following = cur.tokens[cur.pos + 1] if cur.pos + 1 < len(cur.tokens) else None
    return following is None or following.token_type != TokenType.DOT


# -- REGISTRY ---------------------------------------------------------------------------------


def parse_registry(cur: Cursor) -> st.Statement:
    cur.advance()  # REGISTRY
    text = cur.piece.text
    action = cur.accept_word("LIST", "PULL")
    if action == "LIST":
        provider = cur.name("REGISTRY LIST", PROVIDER)
        cur.finish("REGISTRY LIST", "an optional provider, e.g. REGISTRY LIST google")
        return st.RegistryList(text, provider=provider)
    if action == "PULL":
        provider = cur.require_name("REGISTRY PULL", PROVIDER, "a provider, e.g. REGISTRY PULL google")
        return st.RegistryPull(text, provider=provider, version=_version(cur))
    raise SqlError("REGISTRY needs LIST or PULL, e.g. REGISTRY LIST google or REGISTRY PULL google")


def _version(cur: Cursor) -> str | None:
    """A version is quoted, or bare (v24.11.00274): then several tokens with no space between them."""
    rest = cur.tokens[cur.pos :]
    if not rest:
        return None
    usage = "one version, e.g. REGISTRY PULL google v24.11.00274"
    if rest[0].token_type == TokenType.STRING:
        cur.advance()
        cur.finish("REGISTRY PULL", usage)
        return rest[0].text
    end = 1
    while (
        end < len(rest)
        and rest[end].start == rest[end - 1].end + 1
        and rest[end].token_type != TokenType.STRING
    ):
        end += 1
    cur.pos += end
    cur.finish("REGISTRY PULL", usage)
    return cur.piece.source[rest[0].start : rest[end - 1].end + 1]


# -- EXEC -------------------------------------------------------------------------------------

_EXEC_USAGE = "EXEC google.ml.jobs.cancel @projectsId = 'my-project', @jobsId = 'job_1'"


def parse_exec(cur: Cursor) -> st.Exec:
    cur.advance()  # EXEC
    method = cur.require_name("EXEC", METHOD, f"a method name, e.g. {_EXEC_USAGE}")
    params: dict[str, Any] = {}
    body: Any = None
    while cur.current is not None:
        if params or body is not None:
            cur.accept(TokenType.COMMA)  # optional: StackQL writes @@json without a comma before it
        if not cur.accept(TokenType.PARAMETER):
            raise cur.error(f"EXEC parameters are written @name = value, e.g. {_EXEC_USAGE}")
        if cur.accept(TokenType.PARAMETER):
            if not cur.accept_word("JSON"):
                raise cur.error("@@ is only for the request body: @@json = '{...}'")
            if body is not None:
                raise cur.error("@@json is given twice")
            _expect_eq(cur, "@@json")
            body = _body(cur)
            continue
        name_token = cur.current
        if name_token is None or not is_name(name_token):
            raise cur.error("@ needs a parameter name, e.g. @projectsId = 'my-project'")
        cur.advance()
        name = name_token.text
        if name in params:
            raise SqlError(f"@{name} is given twice {cur.where(name_token)}")
        _expect_eq(cur, f"@{name}")
        params[name] = _value(cur, f"@{name}")
    return st.Exec(cur.piece.text, method=method, params=params, body=body)


def _expect_eq(cur: Cursor, what: str) -> None:
    if not cur.accept(TokenType.EQ):
        raise cur.error(f"{what} needs '=' and a value")


def _body(cur: Cursor) -> str:
    _no_placeholder(cur, "@@json")
    token = cur.accept(TokenType.STRING)
    if token is not None:
        return token.text
    raise cur.error(
        """@@json needs the request body as a quoted JSON string, e.g. @@json = '{"permissions": ["ml.jobs.get"]}'"""
    )


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


_LITERALS: dict[TokenType, Callable[[Token], Any]] = {
    TokenType.STRING: lambda t: t.text,
    TokenType.NUMBER: lambda t: _number(t.text),
    TokenType.TRUE: lambda t: True,
    TokenType.FALSE: lambda t: False,
    TokenType.NULL: lambda t: None,
}


def _no_placeholder(cur: Cursor, what: str) -> None:
    # Only SQL statements bind DB-API parameters (sqlglot keeps their ? in the tree); EXEC values are literals.
    if cur.current is not None and cur.current.token_type == TokenType.PLACEHOLDER:
        raise cur.error(
            f"EXEC takes its values written out, not as ? parameters: give {what} a literal value"
        )


def _value(cur: Cursor, what: str) -> Any:
    _no_placeholder(cur, what)
    sign = -1 if cur.accept(TokenType.DASH) else 1
    token = cur.current
    if (
        token is not None
        and token.token_type in _LITERALS
        and (sign == 1 or token.token_type == TokenType.NUMBER)
    ):
        cur.advance()
        value = _LITERALS[token.token_type](token)
        return -value if sign == -1 else value
    raise cur.error(f"{what} needs a value: a quoted string, a number, TRUE, FALSE or NULL")
