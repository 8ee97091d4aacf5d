"""Where each template value lands in the SQL, and how it is written there so that it cannot leave that place.

The template renders with an opaque marker in place of every value. The marked text is the SQL as the template's
author wrote it; sqlglot's tokenizer (the one the statement will be parsed with) tells what each marker is inside:
a '...' string, an E'...' string, a $$...$$ string, a quoted name, a comment or bare SQL. Each value is then written
for that place, or the script is refused:

    '...'        quotes doubled (a value whose quotes already come in pairs, as StackQL scripts write them, is kept)
    E'...'       backslashes and quotes escaped
    "..." `...`  the quote doubled
    $tag$...$tag$  refused if the value holds a $
    -- comment   refused if the value holds a line break; /* comment */ refused if it would open or close one
    /*+ hint */  refused: a value cannot add hints
    bare SQL     only a number, true, false or null (a null value is NULL); anything else is refused
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable
from typing import Any

from sqlglot.tokens import TokenType

from skyql.errors import SqlError

_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\Z")
_WORDS = {"true", "false", "null"}
_PAIRED_QUOTES = re.compile(r"(?:[^']|'')*\Z")


class Refused(Exception):
    """A value cannot be written where the template puts it; the message says why."""


def text_of(value: Any) -> str:
    """A value as SQL text: booleans as SQL writes them, lists and objects as JSON, null as nothing."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def write(value: Any, place: str, before: str, after: str) -> str:
    """The text of a value for its place; before/after are the characters around it in the SQL."""
    if place == "code":
        text = "NULL" if value is None else text_of(value)
        if not (_NUMBER.match(text) or text.lower() in _WORDS):
            raise Refused(
                "a value outside quotes must be a number, true, false or null; put text inside quotes "
                "('{{ name }}'), or build a list with a loop"
            )
        if text.startswith("-") and before == "-":
            text = " " + text  # `1 -{{ n }}` with n = -1 must not become a -- comment
        return text
    text = text_of(value)
    if place == "quote":
        return text if _PAIRED_QUOTES.match(text) else text.replace("'", "''")
    if place == "estring":
        return text.replace("\\", "\\\\").replace("'", "''")
    if place == "dquote":
        return text.replace('"', '""')
    if place == "backtick":
        return text.replace("`", "``")
    if place == "dollar":
        if "$" in text:
            raise Refused("a value inside a $$-quoted string cannot hold a $; use a '...' string instead")
        return text
    if place == "line_comment":
        if "\n" in text or "\r" in text:
            raise Refused("a value inside a -- comment cannot hold a line break")
        return text
    if place == "block_comment":
        around = before + text + after
        if "/*" in around or "*/" in around:
            raise Refused("a value inside a /* comment */ cannot open or close a comment")
        return text
    if place == "dollar_tag":
        raise Refused("a value cannot be part of the $tag$ of a dollar-quoted string")
    if place == "hint":
        raise Refused("a value cannot go inside a /*+ hint */")
    raise Refused(f"a value cannot go inside {place}")  # pragma: no cover - every place is listed above


def places(text: str, markers: re.Pattern[str], tokenize: Callable[[str], list[Any]]) -> list[str]:
    """For each marker in text (in order), the kind of place it sits in, as write() names them."""
    if markers.search(text) is None:
        return []
    tokens = tokenize(text)
    starts = [t.start for t in tokens]
    found: list[str] = []
    for match in markers.finditer(text):
        at = match.start()
        i = bisect.bisect_right(starts, at) - 1
        if i >= 0 and tokens[i].start <= at <= tokens[i].end:
            found.append(_in_token(text, tokens[i], match))
        else:
            gap_start = tokens[i].end + 1 if i >= 0 else 0
            found.append(_in_gap(text, gap_start, at))
    return found


def _in_token(text: str, token: Any, match: re.Match[str]) -> str:
    kind = token.token_type
    if kind == TokenType.STRING:
        return "quote"
    if kind == TokenType.BYTE_STRING:
        return "estring" if match.start() > token.start + 1 else "code"
    if kind == TokenType.HEREDOC_STRING:
        tag_end = text.index("$", token.start + 1)
        tag = text[token.start : tag_end + 1]
        if tag_end < match.start() and match.end() <= token.end + 1 - len(tag):
            return "dollar"
        return "dollar_tag"
    if kind == TokenType.IDENTIFIER:
        return "backtick" if text[token.start] == "`" else "dquote"
    return "code"


def _in_gap(text: str, start: int, at: int) -> str:
    """Between tokens there is only space and comments: find the comment that holds position at."""
    i = start
    while i < at:
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = len(text) if end == -1 else end
            if at < end:
                return "line_comment"
            i = end
        elif text.startswith("/*", i):
            end = _block_end(text, i)
            if at < end:
                return "hint" if text.startswith("/*+", i) else "block_comment"
            i = end
        else:
            i += 1
    return "code"


def _block_end(text: str, start: int) -> int:
    depth, i = 0, start
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return len(text)


def refused(message: str, line: int | str, source_line: str) -> SqlError:
    shown = source_line.strip()
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return SqlError(f"template line {line}: {message} (in: {shown})")
