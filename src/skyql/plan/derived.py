"""Values through CTEs and derived tables: `WITH j AS (SELECT * FROM google.ml.jobs) ... WHERE j.projectsId = 'p'`.

An output column that is a plain inner column links the two slots both ways:
- outward, always: every value the CTE outputs is a value of the inner column (so a join parameter
  can be read from a provider table behind a CTE);
- inward, when the CTE only filters and projects (no LIMIT, grouping, window): the inner rows that
  matter are those some reader keeps, so the inner column takes the union of its readers' values,
  provided every reader constrains it.
"""

from __future__ import annotations

from collections import defaultdict

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, ScopeType

from skyql.plan.refs import Ref
from skyql.plan.resolve import Resolver, Slot

Owner = tuple[int, str]

# Clauses after which a CTE's rows depend on rows no reader keeps.
_NOT_TRANSPARENT = ("group", "having", "qualify", "limit", "offset", "fetch", "sample")


class DerivedTables:
    """The CTEs and derived tables of a statement, and who reads them."""

    def __init__(self, resolver: Resolver, scopes: list[Scope]) -> None:
        self.resolver = resolver
        self.scope_of: dict[Owner, Scope] = {}  # a reader's (scope, source name) -> the CTE's scope
        self.readers: dict[int, list[Owner]] = defaultdict(list)
        for scope in scopes:
            for name, source in resolver.sources(scope).items():
                if isinstance(source, Scope) and source.scope_type in (
                    ScopeType.CTE,
                    ScopeType.DERIVED_TABLE,
                ):
                    self.scope_of[(id(scope), name)] = source
                    self.readers[id(source)].append((id(scope), name))

    def links(self, slots: set[Slot]) -> list[tuple[Slot, Slot, Scope]]:
        """(inner slot, reader slot, CTE scope) for each of `slots` that reads a plain CTE column."""
        result = []
        for slot in slots:
            owner = slot[0]
            scope = None if isinstance(owner, Ref) else self.scope_of.get(owner)
            if scope is None:
                continue
            inner = self.inner_slot(scope, slot[1])
            if inner is not None:
                result.append((inner, slot, scope))
        return result

    def reader_slots(self, scope: Scope, column: str) -> list[Slot]:
        return [(owner, column) for owner in self.readers.get(id(scope), [])]

    def inner_slot(self, scope: Scope, column: str) -> Slot | None:
        """The inner slot the CTE's output `column` copies, if it is a plain column."""
        select = _select(scope)
        if select is None:
            return None
        selects = select.selects
        if scope.outer_columns:  # FROM (...) AS d(a, b): outputs renamed by position
            names = [c.lower() for c in scope.outer_columns]
            if column not in names or len(names) != len(selects):
                return None
            return self._slot(selects[names.index(column)].unalias(), scope)
        star = False
        for node in selects:
            if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and node.is_star):
                star = True
            elif node.alias_or_name.lower() == column:
                return self._slot(node.unalias(), scope)
        return self._slot(exp.column(column), scope) if star else None

    def transparent(self, scope: Scope) -> bool:
        """Whether the CTE only filters and projects: its inner rows matter only if a reader keeps them."""
        select = _select(scope)
        if select is None or any(select.args.get(key) for key in _NOT_TRANSPARENT):
            return False
        distinct = select.args.get("distinct")
        if distinct is not None and distinct.args.get("on"):
            return False
        return not any(node.find(exp.AggFunc, exp.Window) for node in select.selects)

    def _slot(self, node: exp.Expression, scope: Scope) -> Slot | None:
        if not isinstance(node, exp.Column) or node.is_star:
            return None
        found = self.resolver.resolve(node, scope)
        return found.slot if found is not None and found.scope is scope else None


def _select(scope: Scope) -> exp.Select | None:
    expression = scope.expression.unnest() if isinstance(scope.expression, exp.Subquery) else scope.expression
    return expression if isinstance(expression, exp.Select) else None
