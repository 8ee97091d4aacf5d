"""A forgiving tokenizer for half-typed SQL: the shell needs it where a real parser would give up.

It never raises: an unterminated string or comment is a token of its own kind, so completion can tell that
the cursor is inside one and statement detection can tell that `;` there does not end anything.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<open_comment>/\*.*)
    | (?P<string>'(?:[^']|'')*')
    | (?P<open_string>'(?:[^']|'')*)
    | (?P<quoted>"(?:[^"]|"")*"|`[^`]*`)
    | (?P<open_quoted>["`].*)
    | (?P<var>@@?[A-Za-z_]\w*|@@?)
    | (?P<word>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\.?)
    | (?P<number>\d+(?:\.\d*)?)
    | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)

# Kinds that say nothing about the statement's shape.
TRIVIA = frozenset({"space", "comment", "open_comment"})
# Kinds the cursor cannot complete inside.
OPEN = frozenset({"open_comment", "open_string", "open_quoted"})


class Token(NamedTuple):
    kind: str  # space, comment, open_comment, string, open_string, quoted, open_quoted, var, word, number, punct
    text: str
    start: int


def tokenize(text: str) -> list[Token]:
    """Every token of `text`, trivia included; the texts concatenate back to `text`."""
    return [Token(m.lastgroup or "punct", m.group(), m.start()) for m in _TOKEN.finditer(text)]


def significant(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.kind not in TRIVIA]


def statement_complete(text: str) -> bool:
    """True when `text` ends with a `;` outside strings and comments (Enter then runs it)."""
    tokens = tokenize(text)
    if tokens and tokens[-1].kind in OPEN:
        return False
    rest = significant(tokens)
    return bool(rest) and rest[-1].kind == "punct" and rest[-1].text == ";"


def current_statement(text: str, cursor: int) -> tuple[str, int]:
    """The statement around `cursor` (between top-level `;`s) and where it starts in `text`."""
    start, end = 0, len(text)
    for token in tokenize(text):
        if token.kind == "punct" and token.text == ";":
            if token.start < cursor:
                start = token.start + 1
            else:
                end = token.start
                break
    return text[start:end], start
