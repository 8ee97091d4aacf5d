"""Text that is safe to show on a terminal: control characters escaped, the way `less` shows them."""

from __future__ import annotations

import re

# What a terminal would act on rather than show: C0 controls, DEL, C1 controls (ESC, BEL, CSI, OSC...),
# bidi overrides and isolates (they reorder what is shown), and Unicode line/paragraph separators.
_OTHERS = "\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
_UNSAFE = re.compile(f"[\\x00-\\x1f{_OTHERS}]")
_UNSAFE_BUT_NEWLINE = re.compile(f"[\\x00-\\x09\\x0b-\\x1f{_OTHERS}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, newlines: bool = False) -> str:
    """`text` with control characters shown as `\\n`, `\\t`, `\\x1b`, `\\u202e`: safe on a terminal.

    `newlines`: keep line breaks (a multi-line message), escape the rest.
    """
    return (_UNSAFE_BUT_NEWLINE if newlines else _UNSAFE).sub(_escape, text)


def printable_rows(rows: list[list[str]]) -> list[list[str]]:
    """`printable` applied to every cell; one scan when, as usual, no cell has a control character."""
    if not _UNSAFE.search("".join(cell for row in rows for cell in row)):
        return rows
    return [[printable(cell) for cell in row] for row in rows]


__all__ = ["printable", "printable_rows"]
