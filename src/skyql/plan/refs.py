"""Find the provider tables a statement reads (`google.ml.jobs AS j`), each with its scope and names."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from skyql.errors import NotFoundError, SqlError, shown
from skyql.registry import Method, Registry, Resource


def select_methods(resource: Resource) -> list[Method]:
    """The methods a SELECT may use: the raw `_list` twin is for EXEC only."""
    return [m for m in resource.methods_for("SELECT") if not m.raw]


def page_method(resource: Resource, method: Method) -> Method | None:
    """The method that reads `method`'s response pages whole, one row per page, when its rows are nested in
    them (its raw `_list` twin, else the method itself read raw); None when its rows are the responses."""
    if method.raw or not (method.object_key or method.scoped_key):
        return None
    twin = resource.methods.get("_" + method.name)
    return twin if twin is not None and twin.raw else dataclasses.replace(method, raw=True)


@dataclass(frozen=True)
class Names:
    """The names a provider table answers to in SQL: its parameters and its row columns."""

    params: dict[str, str]  # lower-cased -> as the registry spells it
    columns: dict[str, str]
    column_order: tuple[str, ...]
    # Fields of a list's response pages that its rows do not have (`items`, `nextPageToken`, `warning`): a
    # statement that reads them reads the pages themselves (plan/select.py, `page_method`).
    pages: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, resource: Resource) -> Names:
        params: dict[str, str] = {}
        columns: dict[str, str] = {}
        pages: dict[str, str] = {}
        for method in select_methods(resource):
            # Every parameter, pageToken too: StackQL's examples give it, and the fetcher starts from it.
            for param in method.params:
                params.setdefault(param.name.lower(), param.name)
            for column in resource.columns(method):
                columns.setdefault(column.name.lower(), column.name)
            raw = page_method(resource, method)
            for column in resource.columns(raw) if raw is not None else ():
                pages.setdefault(column.name.lower(), column.name)
        pages = {k: v for k, v in pages.items() if k not in columns and k not in params}
        return cls(params, columns, tuple(columns.values()), pages)

    def param(self, name: str) -> str | None:
        return self.params.get(name.lower())

    def column(self, name: str) -> str | None:
        return self.columns.get(name.lower())

    def canonical(self, name: str) -> str | None:
        """The registry's spelling of a parameter or column name (SQL names are case-insensitive)."""
        return self.column(name) or self.param(name) or self.pages.get(name.lower())


@dataclass(eq=False)
class Ref:
    """One provider table in the statement; two mentions of the same resource are two refs."""

    table: exp.Table
    resource: Resource
    names: Names
    scope: Scope
    source: str  # the name its scope knows it by: the alias, else the table name
    order: int  # position in the statement's text, for stable numbering

    @property
    def owner(self) -> tuple[int, str]:
        """The (scope, source name) pair columns of this table resolve to."""
        return (id(self.scope), self.source)

    @cached_property
    def label(self) -> str:
        alias = self.table.alias
        return f"{self.resource.id} AS {alias}" if alias else self.resource.id


def sources_of(scope: Scope) -> dict[str, exp.Table | Scope]:
    """The sources a scope's FROM and JOINs name (also the right side of SEMI/ANTI joins)."""
    result: dict[str, exp.Table | Scope] = {}
    for name, _node in scope.references:
        if name in result:
            raise SqlError(f"two tables in one FROM are both called {name}; give them different aliases")
        if name in scope.sources:
            result[name] = scope.sources[name]
    return result


def find_refs(scopes: list[Scope], registry: Registry) -> list[Ref]:
    """Every provider table of the statement, in text order; raise for malformed or unknown names."""
    refs: list[Ref] = []
    names: dict[str, Names] = {}
    seen: set[int] = set()
    for scope in scopes:
        for table in scope.tables:
            resource = None if id(table) in seen else provider_resource(table, registry)
            if resource is None:
                continue
            seen.add(id(table))
            if resource.id not in names:
                names[resource.id] = Names.of(resource)
            if not select_methods(resource):
                raise SqlError(
                    f"{resource.id} cannot be read with SELECT (it has no get or list method); "
                    f"SHOW METHODS IN {resource.id} lists what it supports"
                )
            refs.append(Ref(table, resource, names[resource.id], scope, table.alias_or_name, 0))
    for index, ref in enumerate(sorted(refs, key=_text_position)):
        ref.order = index
    return sorted(refs, key=lambda r: r.order)


def check_table_names(expression: exp.Expression, registry: Registry) -> None:
    """Reject `google.ml` in FROM: a 2-part name under a provider is a service, not a table."""
    for table in expression.find_all(exp.Table):
        if table.catalog or not table.db or not isinstance(table.this, exp.Identifier):
            continue
        provider = table.db.lower()
        if provider not in registry.provider_names:
            continue
        service = table.name.lower()
        listing = (
            f"SHOW RESOURCES IN {provider}.{service}"
            if service in registry.provider(provider).service_index
            else f"SHOW SERVICES IN {provider}"
        )
        raise NotFoundError(
            f"{provider}.{shown(service)} is not a resource: name a resource as provider.service.resource, "
            f"e.g. google.ml.jobs; {listing} lists them"
        )


def provider_resource(table: exp.Table, registry: Registry) -> Resource | None:
    """The resource a 3-part table name under a known provider names, else None (a DuckDB table)."""
    if not (table.catalog and table.db and isinstance(table.this, exp.Identifier)):
        return None
    provider = table.catalog.lower()
    if provider not in registry.provider_names:
        return None
    return registry.resource(provider, table.db.lower(), table.name.lower())


def _text_position(ref: Ref) -> tuple[int, int]:
    # Parsed identifiers carry their offset in the text; built ones do not and sort last, stably.
    start = ref.table.this.meta.get("start")
    return (0, start) if isinstance(start, int) else (1, 0)
