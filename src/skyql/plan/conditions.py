"""What the statement's conditions say about columns: literal values, and column equalities.

Only conditions that *constrain* a table count: the top-level ANDs of WHERE (and of an ON, for the
tables that ON filters: both sides of an inner join, only the joined table of a LEFT join). A column
equality `a = b` is an edge along which values flow: `p.projectsId = j.projectsId AND
j.projectsId = 'x'` gives p.projectsId the value 'x'; with no literal, the edge is how a
parameter is taken from another fetch at run time (a join parameter).
"""

from __future__ import annotations

import functools
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from skyql.errors import ParameterError
from skyql.plan.derived import DerivedTables
from skyql.plan.literals import NOT_LITERAL, literal_value, unusable, value_key
from skyql.plan.refs import Ref
from skyql.plan.resolve import Resolver, Slot


def intersect(left: list[Any], right: list[Any]) -> list[Any]:
    keys = {value_key(v) for v in right}
    return [v for v in left if value_key(v) in keys]


def union(left: list[Any], right: list[Any]) -> list[Any]:
    """Values of either list, deduplicated, in first-seen order."""
    result: list[Any] = []
    keys: set[str] = set()
    for value in [*left, *right]:
        if value_key(value) not in keys:
            keys.add(value_key(value))
            result.append(value)
    return result


def owner_key(slot: Slot) -> tuple[int, str]:
    """The (scope, source name) a slot belongs to, for provider and other sources alike."""
    owner = slot[0]
    return owner.owner if isinstance(owner, Ref) else owner


@dataclass
class Facts:
    """What one condition implies: allowed values per slot, and equalities (from, to)."""

    values: dict[Slot, list[Any]] = field(default_factory=dict)
    edges: list[tuple[Slot, Slot]] = field(default_factory=list)
    exact: bool = False  # the condition means exactly `values`, nothing more (pushed down in full)

    def both(self, other: Facts) -> Facts:
        values = dict(self.values)
        for slot, vals in other.values.items():
            values[slot] = intersect(values[slot], vals) if slot in values else vals
        return Facts(values, self.edges + other.edges, self.exact and other.exact)

    def either(self, other: Facts) -> Facts:
        common = [slot for slot in self.values if slot in other.values]
        values = {slot: union(self.values[slot], other.values[slot]) for slot in common}
        exact = self.exact and other.exact and len(self.values) == len(other.values) == len(common) == 1
        return Facts(values, [], exact)


def _check_bound(slot: Slot, nodes: list[exp.Expression]) -> None:
    """A `?` bound to a provider parameter with a value no API takes: say so, not "the parameter is missing"."""
    owner, name = slot
    if not isinstance(owner, Ref) or not owner.names.param(name):
        return
    for node in nodes:
        why = unusable(node)
        if why:
            raise ParameterError(f"{owner.resource.id}.{name}: {why}")


def _as_text(slot: Slot, nodes: list[exp.Expression], values: list[Any]) -> None:
    """A bound date or datetime given to a provider parameter is sent as RFC 3339 text, so the local SQL
    compares the parameter's (text) column with that text too, not with a timestamp."""
    owner, name = slot
    if not isinstance(owner, Ref) or not owner.names.param(name):
        return
    for node, value in zip(nodes, values, strict=True):
        if isinstance(node, exp.TimeStrToTime | exp.DateStrToDate) and isinstance(value, str):
            node.replace(exp.Literal.string(value))


class Constraints:
    """Allowed values per slot and value-flow edges, over every scope of one statement."""

    def __init__(self, resolver: Resolver, scopes: list[Scope]) -> None:
        self.resolver = resolver
        self.scopes = {id(scope.expression): scope for scope in scopes}
        self.values: dict[Slot, list[Any]] = {}
        self.successors: dict[Slot, list[Slot]] = defaultdict(list)
        self.predecessors: dict[Slot, list[Slot]] = defaultdict(list)
        for scope in scopes:
            if isinstance(scope.expression, exp.Select):
                self._collect(scope)
        self.derived = DerivedTables(resolver, scopes)
        self._linked: set[tuple[Slot, Slot]] = set()
        self._propagate()
        while self._through_derived():
            self._propagate()

    def facts(self, node: exp.Expression, scope: Scope) -> Facts:
        """The facts of one condition evaluated in `scope`."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.And | exp.Or):
            # `a AND b AND ...` is a tree as deep as the chain is long: fold its operands in a loop, since
            # recursing would overflow the stack on a few hundred conditions.
            combine = Facts.both if isinstance(node, exp.And) else Facts.either
            return functools.reduce(combine, (self.facts(part, scope) for part in node.flatten()))
        if isinstance(node, exp.EQ):
            return self._equality(node.left, node.right, scope)
        if isinstance(node, exp.In):
            return self._in(node, scope)
        return Facts()

    def _equality(self, left: exp.Expression, right: exp.Expression, scope: Scope) -> Facts:
        left_slot, right_slot = self._slot(left, scope), self._slot(right, scope)
        if left_slot and right_slot:
            return Facts(edges=[(left_slot, right_slot), (right_slot, left_slot)])
        slot, other = (left_slot, right) if left_slot else (right_slot, left)
        if slot is None:
            return Facts()
        value = literal_value(other)
        if value is not NOT_LITERAL:
            _as_text(slot, [other], [value])
            return Facts({slot: [value]}, exact=True)
        _check_bound(slot, [other])
        outer = self._slot(other, scope, correlated=True)
        # A correlated `p.jobsId = j.jobId` filters the subquery's rows, never the outer query's.
        return Facts(edges=[(outer, slot)]) if outer else Facts()

    def _in(self, node: exp.In, scope: Scope) -> Facts:
        slot = self._slot(node.this, scope)
        if slot is None or node.args.get("unnest") or node.args.get("field"):
            return Facts()
        query = node.args.get("query")
        if query is not None:
            inner = self._subquery_slot(query)
            return Facts(edges=[(inner, slot)]) if inner else Facts()
        values = [literal_value(e) for e in node.expressions]
        if not values or any(v is NOT_LITERAL for v in values):
            _check_bound(slot, [e for e, v in zip(node.expressions, values, strict=True) if v is NOT_LITERAL])
            return Facts()
        _as_text(slot, list(node.expressions), values)
        return Facts({slot: union([], values)}, exact=True)

    def _subquery_slot(self, query: exp.Expression) -> Slot | None:
        """The slot `x IN (SELECT col FROM ...)` takes its values from."""
        select = query.unnest() if isinstance(query, exp.Subquery) else query
        scope = self.scopes.get(id(select))
        if scope is None or not isinstance(select, exp.Select) or len(select.selects) != 1:
            return None
        return self._slot(select.selects[0].unalias(), scope)

    def _slot(self, node: exp.Expression, scope: Scope, correlated: bool = False) -> Slot | None:
        """The slot a column operand reads in `scope` (or, if `correlated`, in an enclosing scope)."""
        while isinstance(node, exp.Paren):
            node = node.this
        if not isinstance(node, exp.Column) or node.is_star:
            return None
        found = self.resolver.resolve(node, scope)
        if found is None or (found.scope is scope) == correlated:
            return None
        return found.slot

    def _collect(self, scope: Scope) -> None:
        select = scope.expression
        where = select.args.get("where")
        if where is not None:
            self._add(self.facts(where.this, scope), None)
        from_ = select.args.get("from_")
        if from_ is None:
            return
        names, steps = _join_steps(from_.this)
        for join in select.args.get("joins") or []:
            introduced, nested = _join_steps(join.this)
            steps += [*nested, (join, list(names), introduced)]
            names += introduced
        for join, before, introduced in steps:
            constrained = {(id(scope), name) for name in _constrained_by_on(join, before, introduced)}
            on = join.args.get("on")
            if on is not None:
                self._add(self.facts(on, scope), constrained)
            for identifier in join.args.get("using") or []:
                self._add(self._using(scope, before, introduced[0], identifier.name), constrained)

    def _using(self, scope: Scope, before: list[str], joined: str, column: str) -> Facts:
        """JOIN ... USING (col): the joined table's col equals each earlier table's col."""
        right = self._slot(exp.column(column, table=joined), scope)
        edges: list[tuple[Slot, Slot]] = []
        for name in before:
            ref = self.resolver.ref(scope, name)
            if ref is not None and ref.names.canonical(column) and right:
                left = (ref, ref.names.canonical(column))
                edges += [(left, right), (right, left)]
        return Facts(edges=edges)

    def _add(self, facts: Facts, constrained: set[tuple[int, str]] | None) -> None:
        for slot, vals in facts.values.items():
            if constrained is None or owner_key(slot) in constrained:
                self.values[slot] = intersect(self.values[slot], vals) if slot in self.values else vals
        for source, target in facts.edges:
            if constrained is None or owner_key(target) in constrained:
                self.successors[source].append(target)
                self.predecessors[target].append(source)

    def _propagate(self) -> None:
        """Flow literal values along equalities until nothing changes (sets only shrink)."""
        work = deque(self.values)
        while work:
            source = work.popleft()
            for target in self.successors.get(source, []):
                vals = self.values[source]
                new = intersect(self.values[target], vals) if target in self.values else vals
                if target not in self.values or len(new) != len(self.values[target]):
                    self.values[target] = new
                    work.append(target)

    def _through_derived(self) -> bool:
        """Link CTE outputs to their inner columns and push readers' values in; True if anything changed."""
        changed = False
        slots = set(self.values) | set(self.successors) | set(self.predecessors)
        for inner, reader, scope in self.derived.links(slots):
            if (inner, reader) not in self._linked:
                self._linked.add((inner, reader))
                self.successors[inner].append(reader)
                self.predecessors[reader].append(inner)
                changed = True
            readers = self.derived.reader_slots(scope, reader[1])
            if not self.derived.transparent(scope) or not all(r in self.values for r in readers):
                continue
            vals: list[Any] = []
            for r in readers:
                vals = union(vals, self.values[r])
            new = intersect(self.values[inner], vals) if inner in self.values else vals
            if inner not in self.values or len(new) != len(self.values[inner]):
                self.values[inner] = new
                changed = True
        return changed

    def sources_for(self, slot: Slot) -> list[Slot]:
        """Slots whose values bound `slot`'s, nearest first (transitively, through any table)."""
        seen = {slot}
        order: list[Slot] = []
        work = deque([slot])
        while work:
            for source in self.predecessors.get(work.popleft(), []):
                if source not in seen:
                    seen.add(source)
                    order.append(source)
                    work.append(source)
        return order


Step = tuple[exp.Join, list[str], list[str]]  # a join, the tables before it, the tables it adds


def _join_steps(node: exp.Expression) -> tuple[list[str], list[Step]]:
    """The table names a FROM item introduces, and the joins nested in it: `(a JOIN b ON ...)`."""
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Table) and not node.alias:
        node = node.this
    names = [node.alias_or_name]
    steps: list[Step] = []
    nested_joins = node.args.get("joins") if isinstance(node, exp.Table) else None
    for join in nested_joins or []:
        introduced, nested = _join_steps(join.this)
        steps += [*nested, (join, list(names), introduced)]
        names += introduced
    return names, steps


def _constrained_by_on(join: exp.Join, before: list[str], introduced: list[str]) -> list[str]:
    """The tables whose rows an ON condition filters (the others are kept whole by an outer join)."""
    side, kind = (join.side or "").upper(), (join.kind or "").upper()
    if kind == "ANTI" or side == "LEFT":
        return introduced
    if side == "RIGHT":
        return before
    if side == "FULL":
        return []
    return before + introduced
