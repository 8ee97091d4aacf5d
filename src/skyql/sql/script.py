"""Split a script into statements with sqlglot's tokenizer, keeping each statement's exact text and line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from skyql.errors import SqlError
from skyql.sql.dialect import DIALECT


@dataclass(frozen=True)
class Hint:
    word: str  # upper-cased, e.g. AWAIT
    offset: int  # where its comment starts in the source


@dataclass(frozen=True)
class Piece:
    """One statement of a script: its tokens still point into the whole source, for error positions."""

    source: str
    start: int
    end: int  # exclusive
    tokens: list[Token]
    hints: tuple[Hint, ...]
    line: int  # 1-based line of start

    @property
    def text(self) -> str:
        return self.source[self.start : self.end]


def split_script(text: str) -> list[tuple[str, int]]:
    """Statements of a script as (exact text, 1-based line of its start); empty and comment-only ones dropped."""
    return [(piece.text, piece.line) for piece in pieces(text)]


def pieces(text: str) -> list[Piece]:
    """Tokenize the whole script once and cut it at top-level semicolons."""
    tokens = tokenize(text)
    result: list[Piece] = []
    group: list[Token] = []
    gap_start = 0  # where the text after the previous ';' begins
    line, counted = 1, 0  # newlines are counted incrementally: scripts can hold thousands of statements
    for token in [*tokens, None]:
        if token is not None and token.token_type != TokenType.SEMICOLON:
            group.append(token)
            continue
        gap_end = len(text) if token is None else token.start
        if group:
            start, end, hints = _extent(text, group, gap_start, gap_end)
            line += text.count("\n", counted, start)
            counted = start
            result.append(Piece(text, start, end, group, hints, line))
        group = []
        if token is not None:
            gap_start = token.end + 1
    return result


def _extent(
    text: str, tokens: list[Token], gap_start: int, gap_end: int
) -> tuple[int, int, tuple[Hint, ...]]:
    """A statement spans its tokens, widened to take in hint comments just before or after them."""
    hints: list[Hint] = []
    start, end = tokens[0].start, tokens[-1].end + 1
    lead = _hint_comments(text, gap_start, tokens[0].start)
    if lead:
        start = lead[0][0]
    for before, after in zip(tokens, tokens[1:], strict=False):
        for _, _, hint in _hint_comments(text, before.end + 1, after.start):
            hints.extend(hint)
    trail = _hint_comments(text, tokens[-1].end + 1, gap_end)
    if trail:
        end = trail[-1][1]
    for _, _, hint in (*lead, *trail):
        hints.extend(hint)
    hints.sort(key=lambda h: h.offset)
    return start, end, tuple(hints)


_WORDS = re.compile(r"[^\s,]+")


def _hint_comments(text: str, start: int, end: int) -> list[tuple[int, int, list[Hint]]]:
    """The /*+ ... */ comments in a gap between tokens, which holds only whitespace and comments."""
    if text.find("/*+", start, end) == -1:
        return []
    found: list[tuple[int, int, list[Hint]]] = []
    i = start
    while i < end:
        if text.startswith("--", i):
            newline = text.find("\n", i, end)
            i = end if newline == -1 else newline + 1
        elif text.startswith("/*", i):
            close = _block_comment_end(text, i, end)
            if text.startswith("/*+", i):
                body = text[i + 3 : max(i + 3, close - 2)]
                found.append((i, close, [Hint(w.upper(), i) for w in _WORDS.findall(body)]))
            i = close
        else:
            i += 1
    return found


def _block_comment_end(text: str, start: int, end: int) -> int:
    """Offset just past the comment opened at start; block comments nest, as in sqlglot's tokenizer."""
    depth, i = 0, start
    while i < end:
        if text.startswith("/*", i):
            depth += 1
            i += 2
        elif text.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return end


def tokenize(text: str) -> list[Token]:
    """sqlglot tokens for the skyql dialect; an unreadable script becomes a one-line SqlError."""
    try:
        return DIALECT.tokenize(text)
    except TokenError as err:
        raise _token_error(text, err) from None


_MISSING = re.compile(r"Missing (.+) from \d+:(\d+)")
_QUOTE_KIND = {"'": "string", '"': "quoted name", "`": "quoted name"}


def _token_error(text: str, err: TokenError) -> SqlError:
    cause = str(err.__cause__ or "")
    match = _MISSING.search(cause)
    if match:
        delimiter, offset = match.group(1), int(match.group(2))
        line, col = position(text, min(offset, len(text)))
        kind = _QUOTE_KIND.get(delimiter, "quoted text")
        return SqlError(
            f"unterminated {kind} starting at line {line}, column {col}: add the closing {delimiter}"
        )
    if isinstance(err.__cause__, IndexError):
        # The tokenizer ran past the end of the text: a /* comment was never closed.
        opened = _unclosed_comment(text)
        if opened is not None:
            line, col = position(text, opened)
            return SqlError(f"unterminated comment starting at line {line}, column {col}: add the closing */")
    where = ""
    if err.start is not None:
        line, col = position(text, err.start)
        where = f" near line {line}, column {col}"
    reason = cause.splitlines()[0] if cause else "unreadable text"
    return SqlError(f"cannot read the SQL{where}: {reason}")


def _unclosed_comment(text: str) -> int | None:
    """Offset of the first /* that no */ closes (block comments nest), or None."""
    at = text.find("/*")
    while at != -1:
        end = _block_comment_end(text, at, len(text))
        if end == len(text) and not text.endswith("*/"):
            return at
        at = text.find("/*", end)
    return None


def parse_error(err: ParseError) -> SqlError:
    """sqlglot's multi-line, ANSI-highlighted error as one line: where, near what, and why."""
    info = err.errors[0] if err.errors else {}
    reason = _reason(str(info.get("description") or str(err).splitlines()[0]))
    line, col, near = info.get("line"), info.get("col"), str(info.get("highlight") or "")
    if line is None or col is None:
        return SqlError(f"syntax error: {reason}")
    if near and "\n" not in near:
        col = max(1, col - len(near) + 1)  # sqlglot points at a token's last character; show its first
    near_text = f" near {near!r}" if near else ""
    return SqlError(f"syntax error at line {line}, column {col}{near_text}: {reason}")


_TOKEN_REPR = re.compile(r"\s*(?:but got )?<Token token_type:.*>")
_CLASS_REPR = re.compile(r"<class '(?:[\w.]+\.)?(\w+)'>")


def _reason(description: str) -> str:
    if description.startswith("Required keyword") or description.startswith("Required argument"):
        return "the expression is incomplete"
    if description.startswith("Invalid expression / Unexpected token"):
        return "unexpected token"
    reason = _CLASS_REPR.sub(r"\1", _TOKEN_REPR.sub("", description))
    return " ".join(reason.split()) or "invalid SQL"


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1
