"""Plan INSERT, UPDATE, REPLACE, DELETE and EXEC: statement -> method calls (parameters and bodies).

Pure, except for `evaluate`, a callback that runs a SELECT (an INSERT's source, an `IN (SELECT ...)`,
a SET expression) and returns its rows: the session passes one that plans and fetches as any query does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from skyql.errors import NotFoundError, ParameterError, SqlError
from skyql.registry import Registry, split_name
from skyql.registry.model import Method, Resource, type_word
from skyql.result import Result

Evaluate = Callable[[exp.Expression], Result]
DATA_PREFIX = "data__"


@dataclass
class Call:
    """One API call: a method, its URL/query parameters and its JSON body."""

    method: Method
    params: dict[str, Any]
    body: Any = None
    row: int | None = None  # 1-based source row (INSERT) for partial-failure reports


@dataclass
class MutationPlan:
    kind: str  # INSERT, UPDATE, REPLACE, DELETE, EXEC
    resource: Resource
    method: Method
    calls: list[Call]
    await_operations: bool = False
    returning: list[exp.Expression] = field(default_factory=list)


def plan_mutation(kind: str, expression: exp.Expression, registry: Registry, evaluate: Evaluate,
                  hints: frozenset[str] = frozenset()) -> MutationPlan:
    """Plan an INSERT, UPDATE, REPLACE or DELETE statement."""
    table = expression.find(exp.Table) if kind != "INSERT" else _insert_table(expression)
    if table is None:
        raise SqlError(f"{kind} needs a provider resource, e.g. google.ml.jobs")
    resource = _resource(table, registry)
    method = _method_for(resource, kind)
    returning = list(expression.args["returning"].expressions) if expression.args.get("returning") else []
    if kind == "INSERT":
        calls = _insert_calls(expression, resource, method, evaluate)
    elif kind == "DELETE":
        calls = _keyed_calls(expression, resource, method, evaluate, body=None)
    else:
        calls = _update_calls(expression, resource, method, evaluate, replace=kind == "REPLACE")
    return MutationPlan(kind, resource, method, calls, "AWAIT" in hints, returning)


def plan_exec(method_name: str, params: dict[str, Any], body_text: str | None, registry: Registry,
              hints: frozenset[str] = frozenset()) -> MutationPlan:
    """Plan `EXEC google.svc.res.method @p = v, ... @@json = '...'`."""
    provider, service, res_name, name = split_name(method_name, 4)
    method = registry.method(provider, service, res_name, name)
    resource = registry.resource(provider, service, res_name)
    known = {p.name for p in method.params}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ParameterError(
            f"{method_name} has no parameter {', '.join('@' + u for u in unknown)}; "
            f"it takes {', '.join('@' + p for p in sorted(known)) or 'no parameters'}"
            + (" and a body in @@json" if method.request_schema else "")
        )
    _require(method, params, f"EXEC {method_name}", lambda p: f"@{p}")
    body = None
    if body_text is not None:
        try:
            body = json.loads(body_text)
        except ValueError as err:
            raise ParameterError(f"@@json for {method_name} is not valid JSON: {err}") from None
    elif method.request_schema and method.http_method in ("POST", "PUT", "PATCH"):
        body = {}
    values = {k: _param_value(v) for k, v in params.items()}
    return MutationPlan("EXEC", resource, method, [Call(method, values, body)], "AWAIT" in hints)


# -- INSERT ---------------------------------------------------------------------------------------


def _insert_table(expression: exp.Expression) -> exp.Table | None:
    target = expression.this
    if isinstance(target, exp.Schema):
        target = target.this
    return target if isinstance(target, exp.Table) else None


def _insert_calls(expression: exp.Insert, resource: Resource, method: Method, evaluate: Evaluate) -> list[Call]:
    target = expression.this
    if not isinstance(target, exp.Schema) or not target.expressions:
        raise SqlError(
            f"INSERT INTO {resource.id} needs a column list, e.g. INSERT INTO {resource.id} "
            f"({', '.join(method.required_params)}, data__...) SELECT ...; SHOW INSERT INTO {resource.id} "
            "prints a template"
        )
    columns = [c.name for c in target.expressions]
    targets = [_insert_target(resource, method, c) for c in columns]
    source = expression.expression
    if source is None:
        raise SqlError("INSERT needs VALUES (...) or a SELECT")
    if isinstance(source, exp.Values):
        source = exp.select("*").from_(source.copy())
    rows = evaluate(source)
    if len(rows.columns) != len(columns):
        raise SqlError(f"INSERT names {len(columns)} columns but its source gives {len(rows.columns)}")
    calls = []
    for number, row in enumerate(rows.rows, 1):
        params: dict[str, Any] = {}
        body: dict[str, Any] = {}
        for (kind, name, schema), value in zip(targets, row, strict=True):
            if kind == "param":
                if value is not None:
                    params[name] = _param_value(value)
            elif value is not None:
                body[name] = coerce(value, schema, resource, f"{DATA_PREFIX}{name} (row {number})")
        _require(method, params, f"INSERT INTO {resource.id} (row {number})", str)
        calls.append(Call(method, params, body, row=number))
    return calls


def _insert_target(resource: Resource, method: Method, column: str) -> tuple[str, str, dict]:
    """Where an INSERT column goes: ('param', name, {}) or ('body', field, schema)."""
    fields = resource.service.schema(method.request_schema).get("properties", {})
    if column.startswith(DATA_PREFIX):
        name = column[len(DATA_PREFIX):]
        if name in fields:
            return ("body", name, fields[name])
    elif method.param(column) is not None:
        return ("param", column, {})
    elif column in fields:
        return ("body", column, fields[column])
    valid = [p.name for p in method.params if p.name != "pageToken"] + [DATA_PREFIX + f for f in fields]
    raise NotFoundError(f"{resource.id} has no column {column!r} for INSERT; valid columns: {', '.join(valid)}")


# -- UPDATE, REPLACE, DELETE ------------------------------------------------------------------------


def _update_calls(expression: exp.Update, resource: Resource, method: Method, evaluate: Evaluate,
                  replace: bool) -> list[Call]:
    fields = resource.service.schema(method.request_schema).get("properties", {})
    body: dict[str, Any] = {}
    for assignment in expression.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise SqlError("SET takes column = value pairs, e.g. SET data__labels = '{\"team\": \"a\"}'")
        column = assignment.this.name
        name = column[len(DATA_PREFIX):] if column.startswith(DATA_PREFIX) else column
        if name not in fields:
            valid = ", ".join(DATA_PREFIX + f for f in fields)
            raise NotFoundError(f"{resource.id} has no field {column!r} to set; valid fields: {valid}")
        value = _constant(assignment.expression, evaluate)
        body[name] = coerce(value, fields[name], resource, column)
    calls = _keyed_calls(expression, resource, method, evaluate, body=body)
    if not replace and method.param("updateMask") is not None:
        mask = ",".join(body)
        for call in calls:
            call.params.setdefault("updateMask", mask)
    return calls


def _keyed_calls(expression: exp.Expression, resource: Resource, method: Method, evaluate: Evaluate,
                 body: dict | None) -> list[Call]:
    """One call per combination of the WHERE's parameter values; the id parameters must all be pinned."""
    where = expression.args.get("where")
    verb = "DELETE" if isinstance(expression, exp.Delete) else "UPDATE"
    if where is None:
        raise ParameterError(
            f"{verb} on {resource.id} needs WHERE {' AND '.join(p + ' = ...' for p in method.required_params)}; "
            "skyql never widens a mutation to every resource"
        )
    values: dict[str, list[Any]] = {}
    for condition in _conjuncts(where.this):
        name, options = _param_condition(condition, method, resource, evaluate)
        values[name] = options if name not in values else [v for v in values[name] if v in options]
    missing = [p for p in method.required_params if not values.get(p)]
    if missing:
        given = ", ".join(sorted(values)) or "nothing"
        raise ParameterError(
            f"{verb} on {resource.id} needs {', '.join(missing)} in WHERE (got {given}); "
            "it never runs without pinning the resource's id"
        )
    names = list(values)
    calls = []
    for combo in itertools.product(*(values[n] for n in names)):
        params = {n: _param_value(v) for n, v in zip(names, combo, strict=True)}
        calls.append(Call(method, params, None if body is None else dict(body)))
    return calls


def _param_condition(condition: exp.Expression, method: Method, resource: Resource,
                     evaluate: Evaluate) -> tuple[str, list[Any]]:
    """`param = lit`, `param IN (lits)` or `param IN (SELECT ...)` -> (param, values)."""
    column: exp.Expression | None = None
    options: list[Any] = []
    if isinstance(condition, exp.EQ):
        left, right = condition.this, condition.expression
        if isinstance(right, exp.Column) and not isinstance(left, exp.Column):
            left, right = right, left
        column = left
        options = [_constant(right, evaluate)]
    elif isinstance(condition, exp.In):
        column = condition.this
        query = condition.args.get("query")
        if query is not None:
            subquery = query.this if isinstance(query, exp.Subquery) else query
            result = evaluate(subquery)
            options = [row[0] for row in result.rows]
        else:
            options = [_constant(e, evaluate) for e in condition.expressions]
    if not isinstance(column, exp.Column) or method.param(column.name) is None:
        params = ", ".join(p.name for p in method.params)
        raise ParameterError(
            f"WHERE of a mutation on {resource.id} may only pin parameters ({params}) with = or IN; "
            f"got {condition.sql()}. To act on rows chosen by other columns, use "
            f"{method.required_params[-1] if method.required_params else 'id'} IN (SELECT ...)"
        )
    return column.name, list(dict.fromkeys(options))


def _conjuncts(expression: exp.Expression) -> list[exp.Expression]:
    if isinstance(expression, exp.And):
        return _conjuncts(expression.this) + _conjuncts(expression.expression)
    if isinstance(expression, exp.Paren):
        return _conjuncts(expression.this)
    return [expression]


# -- values -----------------------------------------------------------------------------------------


def _constant(expression: exp.Expression, evaluate: Evaluate) -> Any:
    if isinstance(expression, exp.Literal):
        return expression.to_py()
    if isinstance(expression, exp.Null):
        return None
    if isinstance(expression, exp.Boolean):
        return expression.this
    if isinstance(expression, exp.Neg) and isinstance(expression.this, exp.Literal):
        return -expression.this.to_py()
    result = evaluate(exp.select(expression.copy()))
    return result.rows[0][0] if result.rows else None


def _param_value(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


def coerce(value: Any, schema: dict[str, Any], resource: Resource, column: str) -> Any:
    """Check a value against a request field's schema and turn it into its JSON form."""
    resolved = resource.service.resolve(schema)
    word = type_word(resolved)
    if word in ("object", "array"):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as err:
                raise ParameterError(f"{column} takes JSON text ({word}); it is not valid JSON: {err}") from None
        if word == "object" and not isinstance(value, dict):
            raise ParameterError(f"{column} takes a JSON object, got {type(value).__name__}")
        if word == "array" and not isinstance(value, list):
            raise ParameterError(f"{column} takes a JSON array, got {type(value).__name__}")
        return value
    if word == "integer":
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except (TypeError, ValueError):
            number = None
        if number is None or isinstance(value, bool):
            raise ParameterError(f"{column} takes an integer, got {value!r}")
        # int64 travels as a JSON string in Google's APIs.
        return str(number) if resolved.get("type") == "string" else number
    if word == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{column} takes a number, got {value!r}") from None
    if word == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1"):
            return True
        if str(value).lower() in ("false", "0"):
            return False
        raise ParameterError(f"{column} takes a boolean (true or false), got {value!r}")
    if isinstance(value, dict | list):
        raise ParameterError(f"{column} takes a string, got JSON {type(value).__name__}")
    return str(value)


def _require(method: Method, params: dict[str, Any], what: str, show: Callable[[str], str]) -> None:
    missing = [p for p in method.required_params if params.get(p) is None]
    if missing:
        raise ParameterError(f"{what} needs {', '.join(show(p) for p in missing)}")


def _resource(table: exp.Table, registry: Registry) -> Resource:
    if not table.catalog or not table.db:
        raise NotFoundError(
            f"{table.sql()} is not a provider resource; mutations name one as provider.service.resource, "
            "e.g. google.ml.jobs"
        )
    return registry.resource(table.catalog, table.db, table.name)


def _method_for(resource: Resource, kind: str) -> Method:
    methods = resource.methods_for(kind)
    if not methods and kind == "UPDATE":
        methods = resource.methods_for("REPLACE")
    if not methods:
        verbs = sorted({m.sql_verb for m in resource.methods.values()})
        raise SqlError(f"{resource.id} has no {kind} method; it supports {', '.join(verbs)} "
                       f"(SHOW METHODS IN {resource.id})")
    return methods[0]
