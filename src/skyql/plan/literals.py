"""SQL literals <-> Python values: what a parameter condition gives, and what a `?` becomes."""

from __future__ import annotations

import datetime
import decimal
import json
import re
from typing import Any

from sqlglot import exp

from skyql.errors import ParameterError

_INTEGER = re.compile(r"[+-]?\d+")

# A marker for "not a literal": None is a value (SQL NULL is not, but callers never need it).
NOT_LITERAL = object()


def literal_value(node: exp.Expression) -> Any:
    """The Python value of a literal node (string, number, boolean, negated number), else NOT_LITERAL."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Neg):
        value = literal_value(node.this)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
        return NOT_LITERAL
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            return float(text)
        except ValueError:
            return NOT_LITERAL
    return NOT_LITERAL


def value_key(value: Any) -> str:
    """How values compare when sets of them are intersected or deduplicated: as SQL text would."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_literal(value: Any, position: int) -> exp.Expression:
    """The SQL literal a bound `?` parameter becomes; `position` (1-based) names it in errors."""
    if value is None or isinstance(value, bool | int | float | str | decimal.Decimal | bytes):
        return exp.convert(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return exp.convert(value)
    if isinstance(value, datetime.time):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.TIME)
    if isinstance(value, dict | list | tuple):
        # A request body field or a value compared with JSON: its JSON text, as `@@json` and SQLite take it.
        try:
            return exp.Literal.string(json.dumps(value))
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"parameter {position} cannot be written as JSON: {exc}") from None
    raise ParameterError(
        f"parameter {position} is a {type(value).__name__}; pass a str, int, float, bool, None, Decimal, "
        "date, datetime, time, bytes, or a dict or list (bound as its JSON text)"
    )
