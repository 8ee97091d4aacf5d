"""Metadata statements (SHOW, DESCRIBE, SHOW INSERT, REGISTRY LIST) answered from the registry alone."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from skyql.errors import SqlError
from skyql.registry import Registry, split_name
from skyql.registry.model import Method, Resource, type_word
from skyql.result import Result
from skyql.sql import statements as st


def run(statement: st.Statement, registry: Registry) -> Result:
    """Answer one metadata statement."""
    handler = _HANDLERS.get(type(statement))
    if handler is None:
        raise SqlError(f"{type(statement).__name__} is not a metadata statement")
    result = handler(statement, registry)
    like = getattr(statement, "like", None)
    where = getattr(statement, "where", None)
    if like is not None:
        result = _filter_like(result, like)
    if where is not None:
        result = _filter_where(result, where)
    return result


def show_providers(s: st.ShowProviders, registry: Registry) -> Result:
    rows = [(name, registry.provider(name).version) for name in registry.provider_names]
    return Result.of_strings(["name", "version"], rows)


def show_services(s: st.ShowServices, registry: Registry) -> Result:
    provider = registry.provider(split_name(s.provider, 1)[0])
    cols = ["id", "name", "title"] + (["description"] if s.extended else [])
    rows = []
    for svc in provider.index["services"]:
        row = (svc["id"], svc["name"], svc["title"])
        rows.append(row + ((svc["description"],) if s.extended else ()))
    return Result.of_strings(cols, rows)


def show_resources(s: st.ShowResources, registry: Registry) -> Result:
    svc = registry.service(*split_name(s.service, 2))
    cols = ["name", "id"] + (["description"] if s.extended else [])
    rows = []
    for res in svc.resources.values():
        row = (res.name, res.id)
        rows.append(row + ((resource_description(res),) if s.extended else ()))
    return Result.of_strings(cols, rows)


def show_methods(s: st.ShowMethods, registry: Registry) -> Result:
    res = registry.lookup(s.resource)
    cols = ["MethodName", "RequiredParams", "SQLVerb"] + (["description"] if s.extended else [])
    rows = []
    for m in _ordered_methods(res):
        row = (m.name, ", ".join(m.required_params), m.sql_verb)
        rows.append(row + ((m.description,) if s.extended else ()))
    return Result.of_strings(cols, rows)


def describe(s: st.Describe, registry: Registry) -> Result:
    res = registry.lookup(s.resource)
    cols = ["name", "type"] + (["description"] if s.extended else [])
    rows = []
    for c in res.columns():
        row = (c.name, c.type)
        rows.append(row + ((c.description,) if s.extended else ()))
    return Result.of_strings(cols, rows)


def describe_method(s: st.DescribeMethod, registry: Registry) -> Result:
    method = registry.method(*split_name(s.method, 4))
    res = registry.lookup(s.method.rsplit(".", 1)[0])
    cols = ["name", "type", "param_type", "shape"] + (["description"] if s.extended else [])
    rows = []
    for p in method.params:
        shape = "required" if p.required else "optional"
        row = (p.name, p.type, p.location, shape)
        rows.append(row + ((p.description,) if s.extended else ()))
    for name, prop, required in body_fields(res, method):
        row = (
            f"data__{name}",
            type_word(res.service.resolve(prop)),
            "body",
            "required" if required else "optional",
        )
        rows.append(row + ((prop.get("description", ""),) if s.extended else ()))
    return Result.of_strings(cols, rows)


def show_insert(s: st.ShowInsert, registry: Registry) -> Result:
    res = registry.lookup(s.resource)
    inserts = res.methods_for("INSERT")
    if not inserts:
        raise SqlError(f"{res.id} has no INSERT method; SHOW METHODS IN {res.id} lists what it has")
    method = inserts[0]
    names: list[str] = []
    values: list[str] = []
    for p in method.params:
        # Path parameters are always required; optional query parameters would only be noise here.
        if p.required:
            names.append(p.name)
            values.append(_placeholder(p.name, p.type))
    for name, prop, required in body_fields(res, method):
        if required or not s.required_only:
            names.append(f"data__{name}")
            values.append(_placeholder(name, type_word(res.service.resolve(prop))))
    text = (
        f"INSERT INTO {res.id} (\n"
        + ",\n".join(f"{n}" for n in names)
        + "\n)\nSELECT\n"
        + ",\n".join(values)
        + "\n;"
    )
    return Result.of_strings(["insert_statement"], [(text,)])


def registry_list(s: st.RegistryList, registry: Registry) -> Result:
    names = [s.provider] if s.provider else registry.provider_names
    rows = [(name, registry.provider(name).version) for name in names]
    return Result.of_strings(["provider", "version"], rows)


# "Output only. ..." (AIP-203) or compute's "[Output Only] ...": fields the server sets and ignores in a request.
_OUTPUT_ONLY = re.compile(r"\s*\[?output only\b", re.IGNORECASE)


def is_output_only(prop: dict[str, Any]) -> bool:
    """Whether a body field is set by the server only (discovery's readOnly, or its description says so)."""
    return bool(prop.get("readOnly")) or bool(_OUTPUT_ONLY.match(prop.get("description", "")))


def body_fields(res: Resource, method: Method) -> list[tuple[str, dict[str, Any], bool]]:
    """Writable request-body fields of `method`: (name, property schema, required)."""
    schema = res.service.schema(method.request_schema)
    out = []
    for name, prop in schema.get("properties", {}).items():
        if is_output_only(prop):
            continue
        out.append((name, prop, prop.get("description", "").startswith("Required.")))
    return out


def resource_description(res: Resource) -> str:
    """Discovery has no resource descriptions; the row schema's own description says what a row is."""
    method = res.row_method
    if method is None:
        return ""
    return res.service.row_schema(method).get("description", "")


def _ordered_methods(res: Resource) -> list[Method]:
    # SELECT methods first, then mutations, then EXEC, as StackQL's pages list them.
    order = {"SELECT": 0, "INSERT": 1, "UPDATE": 2, "REPLACE": 3, "DELETE": 4, "EXEC": 5}
    return sorted(res.methods.values(), key=lambda m: (order.get(m.sql_verb, 9), m.name))


def _placeholder(name: str, type_: str) -> str:
    if type_ in ("integer", "number", "boolean"):
        return f"{{{{ {name} }}}}"
    return f"'{{{{ {name} }}}}'"


def _filter_like(result: Result, pattern: str) -> Result:
    """LIKE on the `name` column (else the first), case-insensitive, with SQL wildcards."""
    glob = pattern.replace("*", "[*]").replace("?", "[?]").replace("%", "*").replace("_", "?")
    column = result.columns.index("name") if "name" in result.columns else 0
    rows = [r for r in result.rows if fnmatch.fnmatch(str(r[column]).lower(), glob.lower())]
    return Result(result.columns, result.types, rows)


def _filter_where(result: Result, where: Any) -> Result:
    """Evaluate a WHERE over metadata rows with DuckDB (imported only for this)."""
    import duckdb

    con = duckdb.connect()
    try:
        cols = ", ".join(f'"{c}" VARCHAR' for c in result.columns)
        con.execute(f"CREATE TABLE meta ({cols})")
        if result.rows:
            marks = ", ".join("?" for _ in result.columns)
            con.executemany(f"INSERT INTO meta VALUES ({marks})", [list(r) for r in result.rows])
        condition = where.sql(dialect="duckdb")
        rows = con.execute(f"SELECT * FROM meta WHERE {condition}").fetchall()
    except duckdb.Error as err:
        raise SqlError(f"bad WHERE on metadata: {str(err).splitlines()[0]}") from None
    finally:
        con.close()
    return Result(result.columns, result.types, [tuple(r) for r in rows])


_HANDLERS = {
    st.ShowProviders: show_providers,
    st.ShowServices: show_services,
    st.ShowResources: show_resources,
    st.ShowMethods: show_methods,
    st.Describe: describe,
    st.DescribeMethod: describe_method,
    st.ShowInsert: show_insert,
    st.RegistryList: registry_list,
}
