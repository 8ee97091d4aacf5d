"""SQLite reads a double-quoted name that names no column as a string: `WHERE state = "RUNNING"`."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from skyql.plan.refs import sources_of
from skyql.plan.resolve import Resolver


def quoted_strings(scopes: list[Scope], resolver: Resolver) -> bool:
    """Turn quoted, unqualified names that no source of their scope has into string literals (in place).

    Only where every source's columns are known (provider tables, CTEs and subqueries without `*`): a name
    that might be a column of a table function or VALUES stays a name. True if anything changed.
    """
    changed = False
    for scope in scopes:
        select = scope.expression
        aliases = (
            {p.alias.lower() for p in select.expressions if isinstance(p, exp.Alias)}
            if isinstance(select, exp.Select)
            else set()
        )
        for column in list(scope.columns):
            identifier = column.this
            if column.table or not isinstance(identifier, exp.Identifier) or not identifier.quoted:
                continue
            if column.name.lower() in aliases or resolver.resolve(column, scope) is not None:
                continue
            if not _columns_known(scope, resolver):
                continue
            text = exp.Literal.string(column.name)
            # SQLite names the column by the word, as it names a column.
            column.replace(
                exp.alias_(text, exp.to_identifier(column.name, quoted=True))
                if column.parent is select and column.arg_key == "expressions"
                else text
            )
            changed = True
    return changed


def _columns_known(scope: Scope, resolver: Resolver) -> bool:
    current: Scope | None = scope
    while current is not None:
        for name, source in sources_of(current).items():
            if isinstance(source, exp.Table) and resolver.ref(current, name) is None:
                return False
        current = current.parent if current.can_be_correlated else None
    return True
