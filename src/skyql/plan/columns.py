"""Which columns of each provider table the statement reads, for Google's `fields` projection.

A `*` over a CTE or derived table is followed outward: `WITH j AS (SELECT * FROM google.ml.jobs ...)
SELECT j.state FROM j` reads only `state`. A `*` whose rows reach the result, a whole-row reference
(`SELECT j FROM ... j`) or a DISTINCT over a `*` need every column: then the answer is None.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, ScopeType, walk_in_scope

from skyql.plan.conditions import owner_key
from skyql.plan.refs import Ref
from skyql.plan.resolve import Resolver

Owner = tuple[int, str]


@dataclass
class Usage:
    """How one source (provider table, CTE, derived table) is read in one scope."""

    columns: set[str] = field(default_factory=set)
    stars: list[Scope] = field(default_factory=list)  # scopes in which a `*` reads every column
    whole: bool = False


class ColumnUsage:
    """Column references of a statement, attributed to the sources they read."""

    def __init__(self, resolver: Resolver, scopes: list[Scope]) -> None:
        self.resolver = resolver
        self.usage: dict[Owner, Usage] = defaultdict(Usage)
        self.consumers: dict[int, list[Owner]] = defaultdict(list)  # id(CTE/derived scope) -> readers
        self.full_names: list[tuple[exp.Column, Ref]] = []  # google.ml.jobs.state: rewritten later
        for scope in scopes:
            for name, source in resolver.sources(scope).items():
                if isinstance(source, Scope):
                    self.consumers[id(source)].append((id(scope), name))
            self._scan(scope)

    def columns(self, ref: Ref) -> set[str] | None:
        """The row and parameter columns of `ref` the statement reads, or None when it may read all of them."""
        usage = self.usage.get(ref.owner)
        if usage is None:
            return set()
        if usage.whole:
            return None
        names = set(usage.columns)
        for scope in usage.stars:
            demanded = self._demand(scope, set())
            if demanded is None:
                return None
            names |= demanded
        return {c for c in (ref.names.canonical(name) for name in names) if c}

    def _scan(self, scope: Scope) -> None:
        for node in walk_in_scope(scope.expression):
            if isinstance(node, exp.Column):
                if node.is_star:
                    self._star(scope, node.table)
                else:
                    self._column(scope, node)
            elif isinstance(node, exp.Star) and not isinstance(node.parent, exp.Column | exp.Count):
                self._star(scope, "")
            elif isinstance(node, exp.Columns) and not isinstance(node.this, exp.Star):
                # DuckDB's COLUMNS('regex') / COLUMNS(c -> ...) picks columns by name at run time: all may be read.
                self._star(scope, "")

    def _column(self, scope: Scope, column: exp.Column) -> None:
        found = self.resolver.resolve(column, scope)
        if found is None:
            return  # not a column of any known source: an alias, a lambda variable, or DuckDB's to report
        if found.whole_row is not None:
            owner = found.whole_row
            self.usage[owner.owner if isinstance(owner, Ref) else owner].whole = True
        for slot in found.slots:
            self.usage[owner_key(slot)].columns.add(slot[1].lower())
        if found.full_name and isinstance(found.slots[0][0], Ref):
            self.full_names.append((column, found.slots[0][0]))

    def _star(self, scope: Scope, table: str) -> None:
        sources = self.resolver.sources(scope)
        # The right side of a SEMI or ANTI join only filters: a `*` does not read its columns.
        names = (
            [table] if table in sources else [s for s in sources if s not in scope.semi_or_anti_join_tables]
        )
        for name in names:
            self.usage[(id(scope), name)].stars.append(scope)

    def _demand(self, scope: Scope, visiting: set[int]) -> set[str] | None:
        """The output columns of `scope` its readers use (lower-cased), or None for all of them."""
        if scope.scope_type == ScopeType.SUBQUERY and _under_exists(scope.expression):
            return set()
        if scope.scope_type not in (ScopeType.CTE, ScopeType.DERIVED_TABLE) or id(scope) in visiting:
            return None
        expression = (
            scope.expression.unnest() if isinstance(scope.expression, exp.Subquery) else scope.expression
        )
        if not isinstance(expression, exp.Select) or expression.args.get("distinct") or scope.outer_columns:
            return None
        visiting = visiting | {id(scope)}
        names: set[str] = set()
        for owner in self.consumers.get(id(scope), []):
            usage = self.usage.get(owner)
            if usage is None:
                continue
            if usage.whole:
                return None
            names |= usage.columns
            for reader in usage.stars:
                demanded = self._demand(reader, visiting)
                if demanded is None:
                    return None
                names |= demanded
        return names


def _under_exists(expression: exp.Expression) -> bool:
    parent = expression.parent
    if isinstance(parent, exp.Subquery):
        parent = parent.parent
    return isinstance(parent, exp.Exists)
