"""Plan a SELECT: which provider methods to call with which parameters, and the SQL DuckDB runs after.

The steps, each its own module: bind `?` parameters (bind), find the provider tables (refs),
resolve columns through sqlglot's scopes (resolve), read parameter values and equalities from the
conditions (conditions), choose a method per table (methods), then number the fetches, work out
the columns read (columns) and the LIMIT (limit), and rewrite the statement (rewrite).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.scope import traverse_scope

from skyql.errors import ParameterError, SqlError
from skyql.plan.bind import bind_params
from skyql.plan.columns import ColumnUsage
from skyql.plan.conditions import Constraints
from skyql.plan.joinfilter import source_filter
from skyql.plan.limit import pushdown_limit
from skyql.plan.literals import value_key
from skyql.plan.methods import Choice, and_list, check_unused, choose_method
from skyql.plan.model import Fetch, JoinParam, Plan
from skyql.plan.quoted import quoted_strings
from skyql.plan.refs import Ref, check_table_names, find_refs, page_method, provider_resource
from skyql.plan.resolve import Resolver
from skyql.plan.rewrite import rewrite_tables
from skyql.registry import Param, Registry

# What a query parameter's value must look like, by the API's type (as SQL text: 10, '10', TRUE).
_VALUE_FORMS = {
    "integer": r"[+-]?\d+",
    "number": r"[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?",
    "boolean": r"true|false",
}


@dataclass
class _Planned:
    """One table reference, planned: its method, literal parameters and join sources."""

    ref: Ref
    choice: Choice
    given: dict[str, list[Any]]
    joinable: dict[str, list[tuple[Ref, str]]]
    sources: dict[str, tuple[Ref, str]] | None = None  # join parameter -> (source ref, its column)


def plan_query(expression: exp.Expression, registry: Registry, params: Sequence[Any] | None = None) -> Plan:
    """Plan a SELECT (with CTEs, subqueries, UNION...); `params` fill its `?` placeholders, in order.

    The placeholders are replaced by literals in Plan.local_sql too: DuckDB runs it without parameters.
    """
    if not isinstance(expression, exp.Query):
        raise SqlError(f"only a query can be planned as a SELECT, not {expression.key.upper()}")
    tree = bind_params(expression.copy(), params)
    check_table_names(tree, registry)
    _dotted_params(tree, registry)
    try:
        scopes = traverse_scope(tree)
        refs = find_refs(scopes, registry)
        resolver = Resolver(refs)
        if quoted_strings(scopes, resolver):  # SQLite's "text" that names no column
            scopes = traverse_scope(tree)
            refs = find_refs(scopes, registry)
            resolver = Resolver(refs)
        constraints = Constraints(resolver, scopes)
        usage = ColumnUsage(resolver, scopes)
    except OptimizeError as err:
        raise SqlError(f"cannot plan this statement: {err}") from err
    planned = [_read_pages(_choose(ref, constraints), usage) for ref in refs]
    ordered = _dependency_order(planned)
    keys, fetches = _fetches(ordered, usage, _taken_names(tree), resolver, constraints)
    if len(fetches) == 1:
        fetch = fetches[0]
        fetch.limit = pushdown_limit(tree, scopes, refs, constraints, set(fetch.param_columns))
    return Plan(fetches, rewrite_tables(tree, keys, usage.full_names))


def _dotted_params(tree: exp.Expression, registry: Registry) -> None:
    """`options.requestedPolicyVersion = '3'` (StackQL's registry docs) names a query parameter with a dot in
    its name, not column requestedPolicyVersion of a table `options`: read it as the parameter, quoted."""
    sources = {t.alias_or_name.lower() for t in tree.find_all(exp.Table)}
    sources |= {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    dotted: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        resource = provider_resource(table, registry)
        for method in resource.methods.values() if resource is not None else ():
            dotted.update({p.name.lower(): p.name for p in method.params if "." in p.name})
    if not dotted:
        return
    for column in list(tree.find_all(exp.Column)):
        if column.table and not column.args.get("db") and column.table.lower() not in sources:
            name = dotted.get(f"{column.table}.{column.name}".lower())
            if name is not None:
                column.replace(exp.column(exp.to_identifier(name, quoted=True)))


def _choose(ref: Ref, constraints: Constraints) -> _Planned:
    given: dict[str, list[Any]] = {}
    joinable: dict[str, list[tuple[Ref, str]]] = {}
    for param in ref.names.params.values():
        slot = (ref, param)
        if slot in constraints.values:
            given[param] = constraints.values[slot]
            continue
        for source, column in constraints.sources_for(slot):
            if isinstance(source, Ref) and source is not ref and source.names.canonical(column):
                joinable.setdefault(param, []).append((source, source.names.canonical(column)))
    choice = choose_method(ref, given, joinable)
    check_unused(ref, choice.method, given)
    for param in choice.method.params:
        if given.get(param.name) == []:
            raise ParameterError(
                f"{ref.resource.id}: the conditions on {param.name} contradict each other, no value meets them all"
            )
    return _Planned(ref, choice, given, joinable)


def _read_pages(item: _Planned, usage: ColumnUsage) -> _Planned:
    """A statement that reads only fields of the response pages (`items`, `nextPageToken`, `warning`, and the
    parameters) reads one row per page, as StackQL's registry docs show for compute's lists."""
    names = usage.columns(item.ref)
    pages = item.ref.names.pages
    if not names or not any(name.lower() in pages for name in names):
        return item
    raw = page_method(item.ref.resource, item.choice.method)
    if raw is None:
        return item
    envelope = {c.name for c in item.ref.resource.columns(raw)}
    if all(name in envelope or item.ref.names.param(name) for name in names):
        item.choice = Choice(raw, item.choice.from_joins)
    return item


def _dependency_order(planned: list[_Planned]) -> list[_Planned]:
    """Pick each join parameter's source, then order so that sources come first; a cycle is an error."""
    by_ref = {p.ref: p for p in planned}
    for item in planned:
        item.sources = {}
        for param in item.choice.from_joins:
            candidates = item.joinable[param]
            # A source that needs no join itself cannot be part of a cycle.
            independent = [c for c in candidates if not by_ref[c[0]].choice.from_joins]
            item.sources[param] = (independent or candidates)[0]
    done: list[_Planned] = []
    pending = list(planned)
    while pending:
        ready = [p for p in pending if all(by_ref[s] in done for s, _ in (p.sources or {}).values())]
        if not ready:
            raise SqlError(_cycle_message(pending))
        done.append(ready[0])
        pending.remove(ready[0])
    return done


def _cycle_message(pending: list[_Planned]) -> str:
    takes = [
        f"{p.ref.label} takes {and_list(list(p.sources))} from "
        f"{and_list(sorted({source.label for source, _ in p.sources.values()}))}"
        for p in pending
        if p.sources
    ]
    first = pending[0]
    param = next(iter(first.sources or {}), "")
    example = f"{first.ref.table.alias or first.ref.source}.{param} = '...'"
    return (
        f"the tables take their parameters from each other in a cycle ({'; '.join(takes)}); "
        f"give one of them literal values in WHERE, e.g. {example}"
    )


def _fetches(
    ordered: list[_Planned], usage: ColumnUsage, taken: set[str], resolver: Resolver, constraints: Constraints
) -> tuple[dict[Ref, str], list[Fetch]]:
    """One Fetch per distinct (resource, method, parameters, join sources), keyed by a DuckDB table name."""
    keys: dict[Ref, str] = {}
    by_identity: dict[tuple, Fetch] = {}
    used: dict[str, set[str] | None] = {}
    counters: dict[str, int] = {}
    for item in ordered:
        ref, method = item.ref, item.choice.method
        partitions = _partitions(item)
        joins = [
            JoinParam(param, keys[source], column, source_filter(source, keys[source], resolver, constraints))
            for param, (source, column) in (item.sources or {}).items()
        ]
        identity = (
            ref.resource.id,
            method.name,
            frozenset(tuple(sorted((k, value_key(v)) for k, v in p.items())) for p in partitions),
            tuple(joins),
        )
        fetch = by_identity.get(identity)
        if fetch is None:
            key = _new_key(ref, counters, taken)
            fetch = Fetch(key, ref.resource, method, partitions, joins=joins)
            by_identity[identity] = fetch
            used[key] = set()
        keys[ref] = fetch.key
        columns = usage.columns(ref)
        used[fetch.key] = None if columns is None or used[fetch.key] is None else used[fetch.key] | columns
    fetches = list(by_identity.values())
    for fetch in fetches:
        for join in fetch.joins:
            source = used[join.source]
            if source is not None:
                source.add(join.column)
    for fetch in fetches:
        names = used[fetch.key]
        if names is not None:
            fetch.columns = [c.name for c in fetch.resource.columns(fetch.method) if c.name in names]
            fetch.params_read = [p for p in fetch.resource.param_names if p in names]
    return keys, fetches


def _partitions(item: _Planned) -> list[dict[str, Any]]:
    """The cartesian product of the given values of the method's parameters, in the method's order."""
    method, given = item.choice.method, item.given
    params = [p for p in method.params if p.name in given]
    lists = [_dedupe([_param_value(item.ref, p, v) for v in given[p.name]]) for p in params]
    return [dict(zip([p.name for p in params], combo, strict=True)) for combo in itertools.product(*lists)]


def _param_value(ref: Ref, param: Param, value: Any) -> Any:
    """Path parameters are strings; query parameters keep their literal type, checked against the API's."""
    if param.location == "path":
        return value_key(value)
    form = _VALUE_FORMS.get(param.type)
    # '' is a template's `pageSize = '{{ pageSize }}'` left blank (StackQL's examples): not sent, see build.
    if form and value != "" and not re.fullmatch(form, value_key(value).lower()):
        raise ParameterError(f"{ref.resource.id}: {param.name} takes {_article(param.type)}; got {value!r}")
    return value


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _dedupe(values: list[Any]) -> list[Any]:
    return list({value_key(v): v for v in reversed(values)}.values())[::-1]


def _new_key(ref: Ref, counters: dict[str, int], taken: set[str]) -> str:
    """A table name no identifier of the statement uses: google_ml_jobs_1, google_ml_jobs_2, ..."""
    base = re.sub(r"\W", "_", ref.resource.id.replace(".", "_")).lower()
    number = counters.get(ref.resource.id, 0)
    while True:
        number += 1
        key = f"{base}_{number}"
        if key not in taken:
            counters[ref.resource.id] = number
            taken.add(key)
            return key


def _taken_names(tree: exp.Expression) -> set[str]:
    return {identifier.name.lower() for identifier in tree.find_all(exp.Identifier)}
