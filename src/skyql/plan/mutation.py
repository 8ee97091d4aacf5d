"""Plan INSERT, UPDATE, REPLACE, DELETE and EXEC: statement -> method calls (parameters and bodies).

Pure, except for `evaluate`, a callback that runs a SELECT (an INSERT's source, an `IN (SELECT ...)`,
a SET expression) and returns its rows: the session passes one that plans and fetches as any query does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlglot import exp

from skyql.errors import NotFoundError, ParameterError, SqlError, did_you_mean
from skyql.metadata import body_fields
from skyql.plan.body import check_json, check_scalar
from skyql.registry import Registry, split_name
from skyql.registry.model import Method, Resource, type_word
from skyql.result import Result

Evaluate = Callable[[exp.Expression], Result]
DATA_PREFIX = "data__"
# _body_field's answer for a field the server sets: left out of the body, with a notice.
OUTPUT_ONLY: dict[str, Any] = {"readOnly": True}
# Parameters a user never sets on a mutation: the fetch layer pages by itself.
_HIDDEN_PARAMS = ("pageToken",)
# json.loads and the schema check recurse once per level of a JSON value: a deep one ends as this error.
TOO_DEEP = "is JSON nested too deeply to be a request body (at most a few hundred levels)"


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
    notices: list[str] = field(default_factory=list)  # what was left out of the bodies, and why (stderr)


def plan_mutation(
    kind: str,
    expression: exp.Expression,
    registry: Registry,
    evaluate: Evaluate,
    hints: frozenset[str] = frozenset(),
) -> MutationPlan:
    """Plan an INSERT, UPDATE, REPLACE or DELETE statement."""
    resource, method = mutation_target(kind, expression, registry)
    returning = list(expression.args["returning"].expressions) if expression.args.get("returning") else []
    if not returning and "SHOWRESULTS" in hints:
        returning = [exp.Star()]  # StackQL's hint for "show what the API answered": RETURNING *
    notices: list[str] = []
    if kind == "INSERT":
        calls = _insert_calls(expression, resource, method, evaluate, notices)
    elif kind == "DELETE":
        calls = _keyed_calls(kind, expression, resource, method, evaluate, body=None)
    else:
        calls = _update_calls(kind, expression, resource, method, evaluate, notices)
    return MutationPlan(kind, resource, method, calls, "AWAIT" in hints, returning, notices)


def mutation_target(kind: str, expression: exp.Expression, registry: Registry) -> tuple[Resource, Method]:
    """The resource a mutation names and the method its verb maps to."""
    table = expression.find(exp.Table) if kind != "INSERT" else _insert_table(expression)
    if table is None:
        raise SqlError(f"{kind} needs a provider resource, e.g. google.ml.jobs")
    resource = _resource(table, registry)
    return resource, _method_for(resource, kind, _given_names(kind, expression))


def plan_exec(
    method_name: str,
    params: dict[str, Any],
    body_text: str | None,
    registry: Registry,
    hints: frozenset[str] = frozenset(),
) -> MutationPlan:
    """Plan `EXEC google.svc.res.method @p = v, ... @@json = '...'`."""
    provider, service, res_name, name = split_name(method_name, 4)
    resource = registry.resource(provider, service, res_name)
    method = resource.find_method(name)
    if method is None:
        raise NotFoundError(
            f"{resource.id} has no method {name!r}{did_you_mean(name, resource.methods)}; "
            f"its methods are {', '.join(sorted(resource.methods))}"
        )
    # StackQL's `buckets.setIamPolicy` is served by `buckets_iam_policies`: plan it as that resource's.
    if resource.methods.get(method.name) is not method:
        resource = next(
            (r for r in resource.service.resources.values() if r.methods.get(method.name) is method), resource
        )
    method = _exec_variant(resource, method, params)
    known = [p.name for p in method.params]
    unknown = [p for p in params if p not in known]
    if unknown:
        raise ParameterError(
            f"{method_name} has no parameter {', '.join('@' + u for u in unknown)}"
            f"{did_you_mean(unknown[0], known)}; it takes {', '.join('@' + p for p in known) or 'no parameters'}"
            + (" and a body in @@json" if method.request_schema else "")
        )
    _require(method, params, f"EXEC {method_name}", lambda p: f"@{p}")
    body = None
    if body_text is not None:
        if not method.request_schema:
            raise ParameterError(f"{method_name} takes no request body: leave out @@json")
        try:
            body = json.loads(body_text)
            check_json(resource.service, {"$ref": method.request_schema}, body, "@@json")
        except ValueError as err:
            raise ParameterError(f"@@json for {method_name} is not valid JSON: {err}") from None
        except RecursionError:
            raise ParameterError(f"@@json for {method_name} {TOO_DEEP}") from None
        if not isinstance(body, dict):
            raise ParameterError(f"@@json for {method_name} must be a JSON object")
    elif method.request_schema and method.http_method in ("POST", "PUT", "PATCH"):
        body = {}
    values = {k: _param_value(v) for k, v in params.items()}
    return MutationPlan("EXEC", resource, method, [Call(method, values, body)], "AWAIT" in hints)


def _exec_variant(resource: Resource, method: Method, params: dict[str, Any]) -> Method:
    """The method of the same Google verb whose parameters the EXEC gives, when the named one's do not fit.

    StackQL merges collections into one resource (compute's zonal `disks` and `regionDisks`); the EXEC name is
    the zonal method's (`stop_async_replication`) and `@region` picks the regional one, as SELECT and DELETE
    pick by their WHERE."""
    given = [p for p, v in params.items() if v is not None]

    def fits(m: Method) -> bool:
        known = {p.name for p in m.params}
        return all(p in known for p in params) and m.fits(given)

    if fits(method):
        return method
    verb = method.discovery_id.rsplit(".", 1)[-1]
    variants = [
        m
        for m in resource.methods_for(method.sql_verb)
        if m is not method and m.raw == method.raw and m.discovery_id.rsplit(".", 1)[-1] == verb
    ]
    return next((m for m in variants if fits(m)), method)


# -- INSERT ---------------------------------------------------------------------------------------


def _insert_table(expression: exp.Expression) -> exp.Table | None:
    target = expression.this
    if isinstance(target, exp.Schema):
        target = target.this
    return target if isinstance(target, exp.Table) else None


def _insert_calls(
    expression: exp.Insert, resource: Resource, method: Method, evaluate: Evaluate, notices: list[str]
) -> list[Call]:
    target = expression.this
    if not isinstance(target, exp.Schema) or not target.expressions:
        raise SqlError(
            f"INSERT INTO {resource.id} needs a column list, e.g. INSERT INTO {resource.id} "
            f"({', '.join(method.required_params)}, data__...) SELECT ...; SHOW INSERT INTO {resource.id} "
            "prints a template"
        )
    columns = [c.name for c in target.expressions]
    targets = [_insert_target(resource, method, c) for c in columns]
    notices.extend(
        _left_out(resource, [c for c, t in zip(columns, targets, strict=True) if t[0] == "output"], "INSERT")
    )
    # A parameter and a body field may share a name (compute's `region` in the URL and `data__region` in the
    # body, as StackQL's examples give both); the same one twice is a mistake.
    seen: dict[tuple[str, str], str] = {}
    for column, (kind, name, _) in zip(columns, targets, strict=True):
        if (kind, name) in seen:
            raise SqlError(f"INSERT INTO {resource.id} names {name} twice ({seen[kind, name]} and {column})")
        seen[kind, name] = column
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
        for column, (kind, name, schema), value in zip(columns, targets, row, strict=True):
            if value is None or kind == "output":
                continue
            if kind == "param":
                params[name] = _param_value(value)
            else:
                label = column if len(rows.rows) == 1 else f"{column} (row {number})"
                converted = coerce(value, schema, resource, label)
                if converted is not None:
                    body[name] = converted
        _require(method, params, f"INSERT INTO {resource.id} (row {number})", str)
        calls.append(Call(method, params, body, row=number))
    return calls


def _insert_target(resource: Resource, method: Method, column: str) -> tuple[str, str, dict]:
    """Where an INSERT column goes: ('param', name, {}), ('body', field, schema) or ('output', field, {}):
    an output-only field, left out."""
    if not column.startswith(DATA_PREFIX) and method.param(column) is not None:
        return ("param", column, {})
    name, prop = _body_field(resource, method, column)
    if prop is OUTPUT_ONLY:
        return ("output", name, {})
    if prop is None:
        params = [p.name for p in method.params if p.name not in _HIDDEN_PARAMS]
        valid = params + [DATA_PREFIX + f for f, _, _ in body_fields(resource, method)]
        raise NotFoundError(
            f"{resource.id} has no column {column!r} for INSERT{did_you_mean(column, valid)}; "
            f"valid columns: {', '.join(valid)}"
        )
    return ("body", name, prop)


def _body_field(resource: Resource, method: Method, column: str) -> tuple[str, dict | None]:
    """A `data__field` (or bare field, StackQL's "naive" form) column's request-body field and its schema:
    OUTPUT_ONLY for a field the server sets, None when unknown."""
    name = column.removeprefix(DATA_PREFIX)
    every = resource.service.schema(method.request_schema).get("properties", {})
    writable = {f: prop for f, prop, _ in body_fields(resource, method)}
    if name in writable:
        return name, writable[name]
    if name in every:
        return name, OUTPUT_ONLY
    return name, None


def _left_out(resource: Resource, columns: list[str], verb: str) -> list[str]:
    """The notice for output-only columns: StackQL's generated examples carry them (id, selfLink, ...)."""
    if not columns:
        return []
    names = ", ".join(columns)
    are = "is" if len(columns) == 1 else "are"
    return [
        f"{names} {are} output only in {resource.id} (the server sets {'it' if are == 'is' else 'them'} and "
        f"ignores {'it' if are == 'is' else 'them'} in a request): left out of the {verb} body"
    ]


# -- UPDATE, REPLACE, DELETE ------------------------------------------------------------------------


def _update_calls(
    kind: str,
    expression: exp.Update,
    resource: Resource,
    method: Method,
    evaluate: Evaluate,
    notices: list[str],
) -> list[Call]:
    body: dict[str, Any] = {}
    output: list[str] = []
    for assignment in expression.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise SqlError('SET takes column = value pairs, e.g. SET data__labels = \'{"team": "a"}\'')
        column = assignment.this.name
        name, prop = _body_field(resource, method, column)
        if prop is OUTPUT_ONLY:
            output.append(column)
            continue
        if prop is None:
            valid = [DATA_PREFIX + f for f, _, _ in body_fields(resource, method)]
            hint = (
                f"; {column} is a parameter: pin it in WHERE"
                if method.param(column.removeprefix(DATA_PREFIX))
                else did_you_mean(column, valid)
            )
            raise NotFoundError(
                f"{resource.id} has no field {column!r} to set{hint}; valid fields: {', '.join(valid)}"
            )
        value = _constant(assignment.expression, evaluate)
        # NULL stays JSON null: with the field in updateMask, Google clears it.
        body[name] = None if value is None else coerce(value, prop, resource, column)
    if output and not body:
        raise ParameterError(
            f"{kind} sets only output-only fields of {resource.id} ({', '.join(output)}): the server sets them,"
            " so there is nothing to send; SET a writable field (DESCRIBE METHOD lists them)"
        )
    notices.extend(_left_out(resource, output, kind))
    calls = _keyed_calls(kind, expression, resource, method, evaluate, body=body)
    if kind == "UPDATE" and method.param("updateMask") is not None:
        mask = ",".join(body)
        for call in calls:
            call.params.setdefault("updateMask", mask)
    return calls


def _keyed_calls(
    verb: str,
    expression: exp.Expression,
    resource: Resource,
    method: Method,
    evaluate: Evaluate,
    body: dict | None,
) -> list[Call]:
    """One call per parameter combination the WHERE allows; the id parameters must all be pinned."""
    where = expression.args.get("where")
    if where is None:
        raise ParameterError(
            f"{verb} on {resource.id} needs WHERE {' AND '.join(p + ' = ...' for p in method.required_params)}; "
            "skyql never widens a mutation to every resource"
        )
    pinned: dict[str, None] = {}
    combos: list[dict[str, Any]] = [{}]
    for condition in _conjuncts(where.this):
        names, rows = _param_condition(condition, method, resource, evaluate)
        pinned.update(dict.fromkeys(names))
        # AND of two conditions on the same parameter keeps the values both allow.
        combos = [
            {**c, **r} for c in combos for r in rows if all(str(c.get(k, v)) == str(v) for k, v in r.items())
        ]
    missing = method.missing(pinned)
    if missing:
        given = ", ".join(sorted(pinned)) or "nothing"
        raise ParameterError(
            f"{verb} on {resource.id} needs {', '.join(missing)} in WHERE (got {given}); "
            "it never runs without pinning the resource's id"
        )
    # An IN (SELECT ...) that found nothing leaves no combination: nothing to do, which is not an error.
    unique = {tuple((k, str(v)) for k, v in combo.items()): combo for combo in combos}
    return [Call(method, dict(combo), None if body is None else dict(body)) for combo in unique.values()]


def _param_condition(
    condition: exp.Expression, method: Method, resource: Resource, evaluate: Evaluate
) -> tuple[list[str], list[dict[str, Any]]]:
    """`p = v`, `p IN (...)`, `p IN (SELECT ...)`, `(p, q) IN (SELECT ...)` -> (parameters, allowed values)."""
    target: exp.Expression | None = None
    values: list[tuple[Any, ...]] = []
    if isinstance(condition, exp.EQ):
        target, right = condition.this, condition.expression
        if isinstance(right, exp.Column) and not isinstance(target, exp.Column):
            target, right = right, target
        if _params_of(target, method):
            values = [(_constant(right, evaluate),)]
    elif isinstance(condition, exp.In):
        target = condition.this
        names = _params_of(target, method)
        query = condition.args.get("query")
        if not names:
            pass
        elif query is not None:
            subquery = query.this if isinstance(query, exp.Subquery) else query
            result = evaluate(subquery)
            if len(result.columns) != len(names):
                raise SqlError(
                    f"{target.sql()} IN (SELECT ...) needs a SELECT of {len(names)} "
                    f"column{'s' * (len(names) != 1)}, got {len(result.columns)}"
                )
            values = [tuple(row) for row in result.rows]
        else:
            values = [_constant_tuple(e, len(names), evaluate) for e in condition.expressions]
    names = _params_of(target, method) if target is not None else []
    if not names:
        params = ", ".join(p.name for p in method.params if p.name not in _HIDDEN_PARAMS)
        ids = [p.name for p in method.path_params]
        raise ParameterError(
            f"WHERE of a mutation on {resource.id} may only pin parameters ({params}) with = or IN; "
            f"got {condition.sql()}. To act on rows chosen by other columns, use "
            f"{ids[-1] if ids else 'the id'} IN (SELECT ...)"
        )
    rows = []
    for row in values:
        if any(v is None for v in row):
            raise ParameterError(f"{', '.join(names)} cannot be NULL in a mutation's WHERE")
        rows.append({n: _param_value(v) for n, v in zip(names, row, strict=True)})
    return names, rows


def _params_of(target: exp.Expression | None, method: Method) -> list[str]:
    """The parameter names a condition's left side pins: one column, or a tuple of them; [] otherwise."""
    columns = target.expressions if isinstance(target, exp.Tuple) else [target]
    if all(isinstance(c, exp.Column) and method.param(c.name) is not None for c in columns):
        return [c.name for c in columns]
    return []


def _constant_tuple(expression: exp.Expression, size: int, evaluate: Evaluate) -> tuple[Any, ...]:
    items = expression.expressions if isinstance(expression, exp.Tuple) else [expression]
    if len(items) != size:
        raise SqlError(f"IN list item {expression.sql()} has {len(items)} values, expected {size}")
    return tuple(_constant(e, evaluate) for e in items)


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
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        raise ParameterError(
            f"{value.isoformat()} is a datetime without a time zone, which names no instant: a parameter needs"
            " an aware one (tzinfo=datetime.timezone.utc), sent as RFC 3339 text"
        )
    value = _plain(value)
    return str(value).lower() if isinstance(value, bool) else value


def _plain(value: Any) -> Any:
    """A value from DuckDB in JSON's terms: DECIMAL as int or float, timestamps as RFC 3339 text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
            return value.replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def coerce(value: Any, schema: dict[str, Any], resource: Resource, column: str) -> Any:
    """Check a value against a request field's schema and turn it into its JSON form (None: not given)."""
    service = resource.service
    resolved = service.resolve(schema)
    word = type_word(resolved)
    value = _plain(value)
    if word in ("object", "array"):
        if isinstance(value, str) and not value.strip():
            return None  # a template variable left blank: the field is not given
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as err:
                raise ParameterError(
                    f"{column} takes JSON text ({word}); it is not valid JSON: {err}"
                ) from None
            except RecursionError:
                raise ParameterError(f"{column} {TOO_DEEP}") from None
        try:
            check_json(service, schema, value, column)
        except RecursionError:
            raise ParameterError(f"{column} {TOO_DEEP}") from None
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
        raise ParameterError(
            f"{column} takes a string, got a JSON {'object' if isinstance(value, dict) else 'array'}"
        )
    if isinstance(value, bytes | bytearray):
        if resolved.get("format") == "byte":  # base64 text in JSON, as Google's clients send bytes
            return base64.b64encode(value).decode("ascii")
        raise ParameterError(f"{column} takes text, got bytes: pass a str (e.g. value.decode())")
    text = str(value).lower() if isinstance(value, bool) else str(value)
    check_scalar(resolved, text, column)
    return text


def _require(method: Method, params: dict[str, Any], what: str, show: Callable[[str], str]) -> None:
    missing = method.missing([p for p, v in params.items() if v is not None])
    if missing:
        raise ParameterError(f"{what} needs {', '.join(show(p) for p in missing)}")


def _resource(table: exp.Table, registry: Registry) -> Resource:
    if not table.catalog or not table.db:
        raise NotFoundError(
            f"{table.sql()} is not a provider resource; mutations name one as provider.service.resource, "
            "e.g. google.ml.jobs"
        )
    return registry.resource(table.catalog, table.db, table.name)


def _method_for(resource: Resource, kind: str, given: set[str]) -> Method:
    """StackQL's choice: the first method for the verb (in its sqlVerbs order) whose required parameters
    the statement gives; an UPDATE falls back to REPLACE methods when the resource has no UPDATE."""
    methods = resource.methods_for(kind)
    if not methods and kind == "UPDATE":
        kind, methods = "REPLACE", resource.methods_for("REPLACE")
    if not methods:
        verbs = sorted({m.sql_verb for m in resource.methods.values()})
        raise SqlError(
            f"{resource.id} has no {kind} method; it supports {', '.join(verbs)} "
            f"(SHOW METHODS IN {resource.id})"
        )
    chosen = resource.first_fit(kind, given)
    if chosen is not None or len(methods) == 1:
        return chosen or methods[0]
    from skyql.plan.methods import missing_message

    if kind == "INSERT":
        text = missing_message(
            f"INSERT INTO {resource.id}", methods, given, lambda p: f"{p} to the column list"
        )
        raise ParameterError(text.replace(" in WHERE;", " in its column list;"))
    raise ParameterError(
        missing_message(f"{kind} on {resource.id}", methods, given, lambda p: f"{p} = '...'")
    )


def _given_names(kind: str, expression: exp.Expression) -> set[str]:
    """The parameter names a mutation gives: an INSERT's columns, the columns its WHERE compares."""
    if kind == "INSERT":
        target = expression.this
        columns = target.expressions if isinstance(target, exp.Schema) else []
        return {c.name for c in columns if not c.name.startswith(DATA_PREFIX)}
    where = expression.args.get("where")
    return {c.name for c in where.find_all(exp.Column)} if where is not None else set()
