"""Bind `?` parameters: each placeholder becomes the literal of its value, so DuckDB gets no parameters.

Binding before planning lets a `?` carry a parameter value (`WHERE projectsId = ?`) exactly like a
literal, and keeps the local SQL self-contained. Values are numbered in the order the placeholders
appear in the statement; `$1` / `:1` style numbered placeholders pick their value by number.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from skyql.errors import ParameterError, SqlError
from skyql.plan.literals import to_literal


def bind_params(expression: exp.Expression, params: Sequence[Any] | None) -> exp.Expression:
    """Replace the placeholders of `expression` (in place) with literals of `params`; return it."""
    placeholders = list(expression.find_all(exp.Placeholder))
    values = list(params or [])
    if not placeholders:
        if values:
            raise ParameterError(
                f"{_count(len(values), 'parameter')} given but the statement has no ? placeholder"
            )
        return expression
    names = {ph.text("this") for ph in placeholders}
    if names == {""}:
        if len(values) != len(placeholders):
            raise ParameterError(
                f"the statement has {_count(len(placeholders), '? placeholder')} "
                f"but {_count(len(values), 'parameter')} given"
            )
        order = _text_order(expression, placeholders)
        for position, index in enumerate(order, start=1):
            placeholders[index].replace(to_literal(values[position - 1], position))
        return expression
    if all(name.isdigit() for name in names):
        highest = max(int(name) for name in names)
        if len(values) < highest:
            raise ParameterError(
                f"the statement uses parameter ${highest} but {_count(len(values), 'parameter')} given"
            )
        for ph in placeholders:
            number = int(ph.text("this"))
            ph.replace(to_literal(values[number - 1], number))
        return expression
    raise SqlError(
        "use ? placeholders, or $1, $2, ... (not both); named parameters such as :name are not supported"
    )


def _text_order(expression: exp.Expression, placeholders: list[exp.Placeholder]) -> list[int]:
    """Indexes of `placeholders` in the order they appear in the statement's text.

    The AST's own walk order differs from the text (a WITH clause is visited last), so the order is
    read off generated SQL, in which each placeholder is replaced by a unique marker.
    """
    tag = uuid.uuid4().hex
    copy = expression.copy()
    for index, ph in enumerate(list(copy.find_all(exp.Placeholder))):
        ph.replace(exp.Literal.string(f"{tag}_{index}_"))
    text = copy.sql(dialect="duckdb")
    # One pass over the text: a find() per placeholder would take minutes for a list of thousands.
    order = [int(match.group(1)) for match in re.finditer(f"{tag}_([0-9]+)_", text)]
    return order if sorted(order) == list(range(len(placeholders))) else list(range(len(placeholders)))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
