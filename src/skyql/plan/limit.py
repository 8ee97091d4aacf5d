"""LIMIT pushdown: stop fetching early when the statement is a plain scan of one provider table."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from skyql.plan.conditions import Constraints
from skyql.plan.literals import literal_value
from skyql.plan.refs import Ref

# A plain scan has nothing but these clauses: any other (ORDER BY, GROUP BY, DISTINCT, QUALIFY,
# SAMPLE, ...) needs every row before the first one is known.
_PLAIN_CLAUSES = frozenset({"expressions", "from_", "where", "limit", "offset"})
# In the select list these change how many rows come out of the rows read.
_ROW_CHANGING = (exp.AggFunc, exp.Window, exp.UDTF, exp.Explode, exp.Unnest, exp.Subquery, exp.Query)


def pushdown_limit(
    expression: exp.Expression, scopes: list[Scope], refs: list[Ref], constraints: Constraints, sent: set[str]
) -> int | None:
    """LIMIT (+ OFFSET) for the one fetch of a plain scan, else None.

    `sent` names the parameters the fetch sends: conditions on them are the only ones allowed,
    because the API already applied them.
    """
    if len(scopes) != 1 or len(refs) != 1 or not isinstance(expression, exp.Select):
        return None
    ref, scope = refs[0], scopes[0]
    if {key for key, value in expression.args.items() if value} - _PLAIN_CLAUSES:
        return None
    if expression.args.get("limit") is None:
        return None
    if expression.args["from_"].this is not ref.table:
        return None
    if any(node.find(*_ROW_CHANGING) for node in expression.expressions):
        return None
    where = expression.args.get("where")
    if where is not None:
        facts = constraints.facts(where.this, scope)
        if not facts.exact or any(slot[0] is not ref or slot[1] not in sent for slot in facts.values):
            return None
    limit = _integer(expression.args["limit"].expression)
    offset_node = expression.args.get("offset")
    offset = _integer(offset_node.expression) if offset_node is not None else 0
    if limit is None or offset is None:
        return None
    # LIMIT 0 still reads one row, so that a wrong parameter is reported rather than ignored.
    return max(limit + offset, 1)


def _integer(node: exp.Expression | None) -> int | None:
    value = literal_value(node) if node is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
