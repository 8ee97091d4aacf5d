"""Which table a column reference reads, using sqlglot's scopes (subqueries, CTEs, correlation).

A column resolves to a *slot*: (owner, column). The owner is the provider `Ref`, or for any other
source (a CTE, a derived table, json_each(...)) the pair (id(scope), source name). Names of provider
columns are spelled as the registry spells them; other names are lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from skyql.plan.refs import Ref, sources_of

Slot = tuple[Any, str]


@dataclass
class Resolved:
    scope: Scope  # the scope whose source the column reads (an outer one when correlated)
    slots: list[Slot] = field(default_factory=list)  # more than one when ambiguous
    whole_row: Any = None  # the owner, when the reference names a whole row (`SELECT j FROM ... j`)
    ambiguous: bool = False
    full_name: bool = False  # qualified as catalog.db.table.column: rewritten to the table's alias

    @property
    def slot(self) -> Slot | None:
        """The one slot read, when the reference is unambiguous."""
        return self.slots[0] if len(self.slots) == 1 and not self.ambiguous else None


class Resolver:
    """Resolve columns against the scopes of one statement."""

    def __init__(self, refs: list[Ref]) -> None:
        self.refs = {ref.owner: ref for ref in refs}
        self._sources: dict[int, dict[str, exp.Table | Scope]] = {}

    def sources(self, scope: Scope) -> dict[str, exp.Table | Scope]:
        if id(scope) not in self._sources:
            self._sources[id(scope)] = sources_of(scope)
        return self._sources[id(scope)]

    def ref(self, scope: Scope, source: str) -> Ref | None:
        return self.refs.get((id(scope), source))

    def resolve(self, column: exp.Column, scope: Scope) -> Resolved | None:
        """Where `column` (as used in `scope`) comes from, or None when no source is known to have it."""
        table, db, catalog, name = column.table, column.db, column.catalog, column.name
        current: Scope | None = scope
        while current is not None:
            sources = self.sources(current)
            if not table:
                found = self._unqualified(current, name)
                if found:
                    return found
            elif not db and table in sources:
                return self._bind(current, table, name)
            elif db and not catalog and db in sources:
                # DuckDB struct access j.trainingInput.region reads column trainingInput of j.
                return self._bind(current, db, table)
            elif db and catalog:
                found = self._full_name(current, catalog, db, table, name)
                if found:
                    return found
            current = current.parent if current.can_be_correlated else None
        if table and not db:
            # trainingInput.region with no source called trainingInput: struct access on a column.
            return self.resolve(exp.column(table), scope)
        return None

    def _bind(self, scope: Scope, source: str, name: str) -> Resolved:
        ref = self.ref(scope, source)
        if ref is not None:
            canonical = ref.names.canonical(name)
            return Resolved(scope, [(ref, canonical or name)])
        return Resolved(scope, [((id(scope), source), name.lower())])

    def _full_name(self, scope: Scope, catalog: str, db: str, table: str, name: str) -> Resolved | None:
        for source in self.sources(scope):
            ref = self.ref(scope, source)
            if ref is None or ref.table.alias:
                continue
            parts = (ref.table.catalog.lower(), ref.table.db.lower(), ref.table.name.lower())
            if parts == (catalog.lower(), db.lower(), table.lower()):
                found = self._bind(scope, source, name)
                found.full_name = True
                return found
        return None

    def _unqualified(self, scope: Scope, name: str) -> Resolved | None:
        sources = self.sources(scope)
        hits: list[Slot] = []
        for source in sources:
            ref = self.ref(scope, source)
            if ref is not None and ref.names.canonical(name):
                hits.append((ref, ref.names.canonical(name)))
        if len(hits) > 1 and name.lower() in _using_columns(scope):
            # JOIN ... USING (projectsId): the unqualified name is the merged column, the leftmost
            # table's; the USING equality carries its values to the others.
            hits = hits[:1]
        if hits:
            return Resolved(scope, hits, ambiguous=len(hits) > 1)
        derived = [
            source for source, node in sources.items() if isinstance(node, Scope) and _may_have(node, name)
        ]
        if len(derived) == 1:
            return self._bind(scope, derived[0], name)
        if derived:
            return Resolved(scope, ambiguous=True)
        if name in sources:
            ref = self.ref(scope, name)
            return Resolved(scope, whole_row=ref if ref is not None else (id(scope), name))
        others = [source for source in sources if self.ref(scope, source) is None]
        if len(sources) == 1 and others:
            # The only source, of unknown columns (json_each(...), a DuckDB table): it must be its.
            return self._bind(scope, others[0], name)
        return None


def _may_have(scope: Scope, name: str) -> bool:
    """Whether a derived table or CTE may output a column called `name` (always, after a `*`)."""
    expression = scope.expression
    if isinstance(expression, exp.Subquery):
        expression = expression.unnest()
    if not isinstance(expression, exp.Query):
        return False
    selects = {n.lower() for n in expression.named_selects}
    columns = [c.lower() for c in scope.outer_columns]  # FROM (...) AS d(a, b)
    return "*" in selects or name.lower() in selects or name.lower() in columns or _has_star(expression)


def _has_star(expression: exp.Query) -> bool:
    return any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star) for e in expression.selects
    )


def _using_columns(scope: Scope) -> set[str]:
    if not isinstance(scope.expression, exp.Select):
        return set()
    joins = scope.expression.args.get("joins") or []
    return {identifier.name.lower() for join in joins for identifier in join.args.get("using") or []}
