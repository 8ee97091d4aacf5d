"""Reading just enough of a raw page: its nextPageToken, whether it is empty, how many rows it has."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

_KEY = b'"nextPageToken"'
_WHITESPACE = b" \t\r\n"
_DECODER = json.JSONDecoder()
# Pages at most this big are parsed to tell whether they hold rows; bigger ones always do.
SMALL_PAGE = 4096


class PageFormatError(ValueError):
    """A page is not a JSON object."""


def next_page_token(body: bytes) -> str | None:
    """The top-level nextPageToken of a JSON page, or None at the last page."""
    # Google writes the token first or last in the top-level object: reading it there costs microseconds
    # where json.loads costs milliseconds per MB on the event loop. Anywhere else, the page is parsed.
    at = body.rfind(_KEY)
    if at < 0:
        return None
    fast = _member_at(body, at)
    if fast is not None:
        return fast[1] or None
    doc = _parse(body)
    token = doc.get("nextPageToken")
    return token if isinstance(token, str) and token else None


def _member_at(body: bytes, at: int) -> tuple[bool, str | None] | None:
    """(True, value) when the key at `at` is the first or last member of the top-level object, else None."""
    prev = _skip_back(body, at - 1)
    # The opening quote must be structural: after '{' or ',' (inside a string it would be escaped).
    if prev < 0 or body[prev] not in b"{,":
        return None
    first = body[prev] == ord("{") and _skip_back(body, prev - 1) < 0
    start = at + len(_KEY)
    # The first member: read a bounded window (tokens are short); the last: everything after the key.
    window = body[start : start + 4096] if first else body[start:]
    try:
        text = window.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.lstrip()
    if not text.startswith(":"):
        return None
    text = text[1:].lstrip()
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        return None
    rest = text[end:].strip()
    if value is not None and not isinstance(value, str):
        return None
    if first and rest[:1] in (",", "}"):
        return True, value
    if not first and rest == "}":
        return True, value
    return None


def _skip_back(body: bytes, i: int) -> int:
    """The index of the last non-whitespace byte at or before `i`, or -1."""
    while i >= 0 and body[i] in _WHITESPACE:
        i -= 1
    return i


def _parse(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PageFormatError(f"the page is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise PageFormatError("the page is not a JSON object")
    return doc


def is_empty(body: bytes, items_key: str | None) -> bool:
    """True when a page holds no rows (only small pages are parsed; a big page has rows)."""
    if items_key is None or len(body) > SMALL_PAGE or _has_first_item(items_key).search(body):
        return False
    return not _parse(body).get(items_key)


@functools.lru_cache(maxsize=64)
def _has_first_item(items_key: str) -> re.Pattern[bytes]:
    """`"jobs": [` then an item: a page that has rows, told without parsing it (key first, as Google writes)."""
    return re.compile(b'^\\s*\\{\\s*"' + re.escape(items_key.encode()) + rb'"\s*:\s*\[\s*[^\]\s]')


def count_rows(body: bytes, items_key: str | None) -> int:
    """How many rows a page holds: the items under `items_key`, else one object."""
    if items_key is None:
        return 1
    items = _parse(body).get(items_key)
    if isinstance(items, list | dict):
        return len(items)
    return 0 if items is None else 1
