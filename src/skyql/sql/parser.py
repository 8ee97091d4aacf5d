"""Text -> Statement: StackQL's statements by the small token parser, standard SQL by sqlglot."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import Token, TokenType

from skyql.errors import SqlError, did_you_mean
from skyql.sql import stackql
from skyql.sql import statements as st
from skyql.sql.dialect import DIALECT
from skyql.sql.script import Piece, parse_error, pieces

HINTS = ("AWAIT", "SHOWRESULTS", "REQUIRED")
# sqlglot logs a warning when it gives up on a statement ("falling back to parsing as a Command"), which
# Python would print on stderr next to skyql's own error: the error says it already.
logging.getLogger("sqlglot").addHandler(logging.NullHandler())

SUPPORTED = (
    "skyql runs SELECT (with WITH, UNION, VALUES), INSERT, UPDATE, REPLACE, DELETE, EXEC, "
    "SHOW, DESCRIBE and REGISTRY statements"
)
TOO_DEEP = (
    "the statement nests too deeply to be read (parentheses, subqueries, CASE or functions inside each other,"
    " a few dozen levels at most): flatten it, e.g. with WITH clauses"
)
EMPTY = "empty statement: nothing to run; write a statement such as SHOW SERVICES IN google"

_STACKQL: dict[str, Callable[[stackql.Cursor], st.Statement]] = {
    "SHOW": stackql.parse_show,
    "DESCRIBE": stackql.parse_describe,
    "DESC": stackql.parse_describe,
    "REGISTRY": stackql.parse_registry,
    "EXEC": stackql.parse_exec,
}
_QUERY_START = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.L_PAREN, TokenType.FROM}
_MUTATION_START = {TokenType.INSERT, TokenType.UPDATE, TokenType.DELETE, TokenType.REPLACE}
_MUTATIONS: dict[type[exp.Expression], str] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
}


def parse(text: str) -> list[st.Statement]:
    """Every statement of a script, in order; positions in errors refer to the whole text."""
    return [parse_piece(piece) for piece in pieces(text)]


def parse_one(text: str) -> st.Statement:
    """Exactly one statement (a trailing ';' is fine)."""
    found = pieces(text)
    if not found:
        raise SqlError(EMPTY)
    if len(found) > 1:
        raise SqlError(
            f"expected one statement but found {len(found)} (the second starts at line {found[1].line}): "
            "send them one at a time, or run them as a script with skyql exec -i FILE"
        )
    return parse_piece(found[0])


def parse_piece(piece: Piece) -> st.Statement:
    """One statement of a split script."""
    hints = _hints(piece)
    first = piece.tokens[0]
    keyword = first.text.upper() if stackql.is_word(first) else ""
    if keyword in _STACKQL:
        statement = _STACKQL[keyword](stackql.Cursor(piece))
        statement.hints = hints
    elif first.token_type in _QUERY_START or first.token_type in _MUTATION_START:
        statement = _standard(piece)  # its hints are those outside its `(EXEC ...)` subqueries
    else:
        verb = keyword or first.text
        raise SqlError(f"{verb} statements are not supported: {SUPPORTED}")
    statement.line = piece.line
    return statement


def _hints(piece: Piece) -> frozenset[str]:
    for hint in piece.hints:
        if hint.word not in HINTS:
            line = piece.source.count("\n", 0, hint.offset) + 1
            known = ", ".join(f"/*+ {h} */" for h in HINTS)
            raise SqlError(
                f"unknown hint {hint.word} at line {line}{did_you_mean(hint.word, HINTS)}: skyql knows {known}"
            )
    return frozenset(hint.word for hint in piece.hints)


def _standard(piece: Piece) -> st.Statement:
    """SELECT and DML through sqlglot; REPLACE is StackQL's UPDATE-shaped PUT."""
    tokens, execs, hints = _exec_subqueries(piece)
    try:
        expression = DIALECT.parser().parse(tokens, piece.source)[0]
    except ParseError as err:
        raise parse_error(err) from None
    except RecursionError:
        # sqlglot's parser recurses once per level of nesting, several frames deep each time.
        raise SqlError(TOO_DEEP) from None
    if expression is None:
        raise SqlError(EMPTY)
    _drop_hint_comments(expression)
    for table in expression.find_all(exp.Table):
        if not table.db and table.name in execs:
            table.meta[st.EXEC_META] = execs[table.name]
    if isinstance(expression, exp.Query | exp.Values):
        return st.Query(piece.text, expression=expression, hints=hints)
    kind = _MUTATIONS.get(type(expression))
    if kind is None:
        raise SqlError(f"{expression.key.upper()} statements are not supported: {SUPPORTED}")
    if piece.tokens[0].token_type == TokenType.REPLACE:
        kind = "REPLACE"
    return st.Mutation(piece.text, kind=kind, expression=expression, hints=hints)


def _exec_subqueries(piece: Piece) -> tuple[list[Token], dict[str, st.Exec], frozenset[str]]:
    """`(EXEC ...)` read as StackQL's EXEC and replaced by `(SELECT * FROM "<name>")`: StackQL takes an
    EXEC's result rows as a table, e.g. `SELECT members, GROUP_CONCAT(role) FROM (EXEC ...getIamPolicy ...)`.

    Returns the tokens, the EXECs by table name, and the hints that are the statement's own (not an EXEC's).
    """
    tokens = list(piece.tokens)
    execs: dict[str, st.Exec] = {}
    taken: set[int] = set()  # offsets of the hints inside an EXEC
    i = 0
    while i < len(tokens) - 1:
        first, second = tokens[i], tokens[i + 1]
        third = tokens[i + 2] if i + 2 < len(tokens) else None
        # `(exec)` alone is a column of that name; an EXEC statement goes on with a method name.
        if not (
            first.token_type == TokenType.L_PAREN
            and stackql.is_word(second)
            and second.text.upper() == "EXEC"
            and third is not None
            and stackql.is_name(third)
        ):
            i += 1
            continue
        close = _closing(tokens, i)
        if close is None:
            line = piece.source.count("\n", 0, first.start) + 1
            raise SqlError(f"the ( before EXEC at line {line} is never closed: end the EXEC with )")
        inner = tokens[i + 1 : close]
        hints = tuple(h for h in piece.hints if first.start < h.offset < tokens[close].start)
        taken.update(h.offset for h in hints)
        sub = Piece(piece.source, second.start, inner[-1].end + 1, inner, hints, piece.line)
        statement = stackql.parse_exec(stackql.Cursor(sub))
        statement.hints = frozenset(h.word for h in hints)
        name = f"__skyql_exec_{len(execs) + 1}"
        execs[name] = statement
        at = (first.line, first.col, first.start, first.end)
        tokens[i : close + 1] = [
            Token(TokenType.L_PAREN, "(", *at),
            Token(TokenType.SELECT, "SELECT", *at),
            Token(TokenType.STAR, "*", *at),
            Token(TokenType.FROM, "FROM", *at),
            Token(TokenType.IDENTIFIER, name, *at),
            Token(TokenType.R_PAREN, ")", *at),
        ]
        i += 6
    return tokens, execs, frozenset(h.word for h in piece.hints if h.offset not in taken)


def _closing(tokens: list[Token], open_at: int) -> int | None:
    depth = 0
    for j in range(open_at, len(tokens)):
        kind = tokens[j].token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                return j
    return None


def _drop_hint_comments(expression: exp.Expression) -> None:
    """Hints live in Statement.hints; keep them out of SQL generated from the tree."""
    comments = expression.comments
    if comments:
        kept = [c for c in comments if not c.lstrip().startswith("+")]
        expression.comments = kept or None
