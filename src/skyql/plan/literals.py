"""SQL literals <-> Python values: what a parameter condition gives, and what a `?` becomes."""

from __future__ import annotations

import datetime
import decimal
import json
import math
import re
from typing import Any

from sqlglot import exp

from skyql.errors import ParameterError

_INTEGER = re.compile(r"[+-]?\d+")

# A marker for "not a literal": None is a value (SQL NULL is not, but callers never need it).
NOT_LITERAL = object()
# In a node's meta: the 1-based position of the `?` parameter it was bound from (for errors).
PARAM_META = "skyql_param"


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
    if isinstance(node, exp.TimeStrToTime | exp.DateStrToDate) and isinstance(node.this, exp.Literal):
        return _rfc3339(node)
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


def _rfc3339(node: exp.Expression) -> Any:
    """A bound date or aware datetime as an API takes it: 2024-01-02, 2024-01-02T01:04:05Z (in UTC).

    A datetime without a time zone names no instant: it is not a parameter value (see `unusable`).
    """
    text = node.this.this
    try:
        if isinstance(node, exp.DateStrToDate):
            return datetime.date.fromisoformat(text).isoformat()
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return NOT_LITERAL
    if moment.tzinfo is None:
        return NOT_LITERAL
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def unusable(node: exp.Expression) -> str | None:
    """Why a bound `?` parameter cannot be an API parameter's value; None when it is not a bound one."""
    position = node.meta.get(PARAM_META) if node.meta else None
    if position is None:
        return None
    if isinstance(node, exp.Null):
        what = "is None (SQL NULL, which equals nothing); pass the value itself"
    elif isinstance(node, exp.HexString):
        what = "is bytes; API parameters are text: pass a str (e.g. value.decode())"
    elif isinstance(node, exp.TimeStrToTime):
        what = (
            "is a datetime without a time zone, which names no instant; pass an aware one"
            " (tzinfo=datetime.timezone.utc): it is sent as RFC 3339 text, e.g. 2024-01-02T03:04:05Z"
        )
    else:
        what = "is not a value an API parameter can take; pass a str or a number"
    return f"parameter {position} {what}"


def value_key(value: Any) -> str:
    """How values compare when sets of them are intersected or deduplicated: as SQL text would."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_literal(value: Any, position: int) -> exp.Expression:
    """The SQL literal a bound `?` parameter becomes; `position` (1-based) names it in errors."""
    node = _literal(value, position)
    node.meta[PARAM_META] = position
    return node


def _literal(value: Any, position: int) -> exp.Expression:
    if isinstance(value, float | decimal.Decimal) and not _finite(value):
        raise ParameterError(
            f"parameter {position} is {value}: JSON and Google APIs have no NaN or infinity;"
            " pass a finite number, or None for NULL"
        )
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


def _finite(value: float | decimal.Decimal) -> bool:
    return value.is_finite() if isinstance(value, decimal.Decimal) else math.isfinite(value)
