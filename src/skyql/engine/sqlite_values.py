"""SQLite's values for JSON values in the outermost select list: text plus a hidden type word -> a typed value.

The rewrite (skyql.sql.sqlite_json) leaves such a column as text and appends a hidden column with each row's
SQLite type word; here the pair becomes what Python's sqlite3 returns for the same JSON: str, int, float, None,
1/0 for true/false, and JsonText for an object or array.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import Any

from skyql.result import JsonText
from skyql.sql.sqlite_json import TYPE_COLUMN, type_column_target

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def sqlite_value(text: str | None, kind: str | None) -> Any:
    """The value sqlite3 gives for a JSON value whose SQLite text is `text` and type word is `kind`."""
    if text is None or kind == "text":
        return text
    convert = _CONVERT.get(kind)
    return convert(text) if convert is not None else text


def typed_result(
    columns: list[str], types: list[str], rows: list[tuple[Any, ...]]
) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    """Columns, types and rows with the hidden type columns applied to their columns and dropped."""
    hidden = [i for i, name in enumerate(columns) if name.startswith(TYPE_COLUMN + ":")]
    if not hidden:
        return columns, types, rows
    width = len(columns) - len(hidden)
    pairs = [(target, i) for i in hidden if (target := type_column_target(columns[i], width)) is not None]
    # The new rows hold no reference cycles; pausing the collector keeps it from re-walking every fetched row
    # while they are built (half the time on large results).
    paused = gc.isenabled()
    gc.disable()
    try:
        typed = [_typed_row(row, width, pairs) for row in rows]
    finally:
        if paused:
            gc.enable()
    new_types = list(types[:width])
    for target, _ in pairs:
        new_types[target] = type_name([row[target] for row in typed], new_types[target])
    return columns[:width], new_types, typed


def _typed_row(row: tuple[Any, ...], width: int, pairs: list[tuple[int, int]]) -> tuple[Any, ...]:
    values = list(row[:width])
    for target, i in pairs:
        text, kind = values[target], row[i]
        if text is not None and kind != "text":
            values[target] = sqlite_value(text, kind)
    return tuple(values)


def visible_width(columns: Sequence[str]) -> int:
    """How many leading columns a user sees (the hidden type columns come last)."""
    return sum(1 for name in columns if not name.startswith(TYPE_COLUMN + ":"))


def type_name(values: Sequence[Any], default: str) -> str:
    """The DuckDB type name that fits a column's values; VARIANT when they mix numbers and text."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return default
    if kinds == {int}:
        return "BIGINT"
    if kinds <= {int, float}:
        return "DOUBLE"
    if kinds == {JsonText}:
        return "JSON"
    if kinds <= {str, JsonText}:
        return "VARCHAR"
    return "VARIANT"


def _integer(text: str) -> int | float | str:
    try:
        number = int(text)
    except ValueError:
        return _real(text)
    # SQLite keeps integers beyond 64 bits as reals.
    return number if _INT64_MIN <= number <= _INT64_MAX else float(number)


def _real(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _nothing(text: str) -> None:
    return None


_CONVERT: dict[str | None, Callable[[str], Any]] = {
    "integer": _integer,
    "true": _integer,  # the text is already SQLite's 1
    "false": _integer,
    "real": _real,
    "object": JsonText,
    "array": JsonText,
    "null": _nothing,
}
