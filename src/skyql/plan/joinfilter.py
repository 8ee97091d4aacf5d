"""Which rows of a join parameter's source can reach the result: only their values are worth a request.

`... JOIN google.ml.jobs_iam_policies p ON p.jobsId = j.jobId WHERE j.state = 'RUNNING'` needs the
policies of the running jobs only. A top-level AND of the WHERE of the source's own scope that reads
nothing but the source's columns holds for every source row that reaches the result (rows failing it
are gone before joins, outer or not, can use them), so it can filter the distinct values. Conjuncts
with subqueries, aggregates or values that change between two queries (now(), random()) are left out.
"""

from __future__ import annotations

from sqlglot import exp

from skyql.plan.conditions import Constraints
from skyql.plan.refs import Ref
from skyql.plan.resolve import Resolver
from skyql.sql import sqlite

# Nodes whose value may differ between the query that picks parameter values and the final one.
_VOLATILE = (exp.Rand, exp.Uuid, exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.CurrentDatetime)
_VOLATILE_NAMES = frozenset(
    {
        "now",
        "get_current_timestamp",
        "current_localtimestamp",
        "current_localtime",
        "random",
        "gen_random_uuid",
        "uuid",
        "nextval",
        "currval",
        "setseed",
        "transaction_timestamp",
        "get_current_time",
    }
)
# 'now' and friends as SQLite time-function arguments: datetime('now', '-7 days').
_VOLATILE_STRINGS = frozenset({"now", "localtime"})
_NOT_ROW_WISE = (exp.Query, exp.Subquery, exp.Exists, exp.AggFunc, exp.Window, exp.Placeholder, exp.Parameter)


def source_filter(ref: Ref, key: str, resolver: Resolver, constraints: Constraints) -> str | None:
    """A DuckDB condition on table `key` (ref's fetch) every row of `ref` reaching the result meets, or None."""
    select = ref.scope.expression
    where = select.args.get("where") if isinstance(select, exp.Select) else None
    if where is None:
        return None
    kept = [c for c in _conjuncts(where.this) if _usable(c, ref, resolver, constraints)]
    if not kept:
        return None
    condition = exp.and_(*(_on_table(c.copy(), key) for c in kept))
    # The same SQLite JSON semantics as the final query, so both agree on which rows pass.
    query = sqlite.rewrite(exp.select("1").from_(exp.to_table(key)).where(condition))
    return query.args["where"].this.sql(dialect="duckdb")


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _usable(node: exp.Expression, ref: Ref, resolver: Resolver, constraints: Constraints) -> bool:
    """Row-wise, stable, and reading only `ref`'s columns; not a parameter condition already sent."""
    if node.find(*_NOT_ROW_WISE, *_VOLATILE) is not None or _volatile_call(node):
        return False
    columns = list(node.find_all(exp.Column))
    if not columns:
        return False
    slots = []
    for column in columns:
        if column.is_star or column.args.get("db") or column.args.get("catalog"):
            return False
        if column.table and column.table != ref.source:
            return False
        found = resolver.resolve(column, ref.scope)
        slot = found.slot if found is not None and found.scope is ref.scope else None
        if slot is None or slot[0] is not ref or slot[1].lower() != column.name.lower():
            return False
        slots.append(slot)
    # `projectsId = 'p'` chose the requests: every fetched row meets it already.
    sent = isinstance(node, exp.EQ | exp.In) and all(
        ref.names.column(name) is None and (ref, name) in constraints.values for _, name in slots
    )
    return not sent


def _volatile_call(node: exp.Expression) -> bool:
    for sub in node.walk():
        if isinstance(sub, exp.Anonymous) and sub.name.lower() in _VOLATILE_NAMES:
            return True
        if isinstance(sub, exp.Literal) and sub.is_string and sub.this.strip().lower() in _VOLATILE_STRINGS:
            return True
    return False


def _on_table(node: exp.Expression, key: str) -> exp.Expression:
    """Qualify every column with the fetch's table name, which the distinct-values query reads alone."""
    for column in node.find_all(exp.Column):
        column.set("table", exp.to_identifier(key))
    return node
