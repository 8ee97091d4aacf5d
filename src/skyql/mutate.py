"""Run a mutation plan: send its calls concurrently, await operations, report what was done."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from skyql.errors import ApiError, SkyqlError, SqlError
from skyql.plan.mutation import Call, MutationPlan, plan_exec, plan_mutation
from skyql.result import Result
from skyql.sql import statements as st

if TYPE_CHECKING:
    from skyql.session import Session

_PAST = {"INSERT": "inserted", "UPDATE": "updated", "REPLACE": "replaced", "DELETE": "deleted", "EXEC": "executed"}


def run_mutation(session: Session, statement: st.Mutation | st.Exec, params: Sequence[Any] | None) -> Result:
    """Plan and run INSERT/UPDATE/REPLACE/DELETE/EXEC; the result holds RETURNING rows or EXEC's response."""
    if isinstance(statement, st.Exec):
        plan = plan_exec(statement.method, statement.params, statement.body, session.registry, statement.hints)
    else:
        expression = _bind_qmarks(statement.expression, params)

        def evaluate(select: exp.Expression) -> Result:
            return session.execute(st.Query(select.sql(dialect="duckdb"), expression=select))

        plan = plan_mutation(statement.kind, expression, session.registry, evaluate, statement.hints)
    if session.options.dryrun:
        return _dryrun(session, plan)
    outcomes = session.run_async(_send_all(session, plan))
    return _result(session, plan, outcomes)


async def _send_all(session: Session, plan: MutationPlan) -> list[tuple[Call, Any]]:
    """Every call, concurrently; each outcome is the response dict or the error it raised."""
    fetcher = session.fetcher()
    limit = asyncio.Semaphore(max(1, session.options.concurrency))

    async def one(call: Call) -> tuple[Call, Any]:
        async with limit:
            try:
                request = session_request(session, plan, call)
                response = await fetcher.call(request)
                if plan.await_operations and plan.method.returns_operation and isinstance(response, dict):
                    response = await fetcher.wait_operation(
                        response,
                        plan.resource.service,
                        endpoint=session.options.endpoints.get("google"),
                        resource=plan.resource.id,
                        params=call.params,
                    )
                return call, response
            except SkyqlError as err:
                return call, err

    try:
        return list(await asyncio.gather(*(one(c) for c in plan.calls)))
    finally:
        await fetcher.aclose()


def session_request(session: Session, plan: MutationPlan, call: Call) -> Any:
    from skyql.fetch import build_request

    return build_request(
        plan.resource.service,
        call.method,
        call.params,
        endpoint=session.options.endpoints.get("google"),
        body=call.body,
    )


def _result(session: Session, plan: MutationPlan, outcomes: list[tuple[Call, Any]]) -> Result:
    failed = [(c, o) for c, o in outcomes if isinstance(o, SkyqlError)]
    done = [(c, o) for c, o in outcomes if not isinstance(o, SkyqlError)]
    if failed:
        raise _partial_failure(plan, failed, done)
    message = _message(plan, done)
    responses = [o for _, o in done if isinstance(o, dict)]
    if plan.kind == "EXEC":
        result = _rows_of(session, plan, responses, returning=None)
        result.message = message
        return result
    if plan.returning:
        result = _rows_of(session, plan, responses, returning=plan.returning)
        result.message = message
        return result
    return Result([], [], [], message=message, affected=len(done))


def _message(plan: MutationPlan, done: list[tuple[Call, Any]]) -> str:
    count = len(done)
    what = f"{plan.resource.id}.{plan.method.name}"
    if plan.kind == "EXEC":
        text = f"{what}: {count} call{'s' if count != 1 else ''} done"
    else:
        text = f"{count} row{'s' if count != 1 else ''} {_PAST[plan.kind]} ({what})"
    if plan.method.returns_operation:
        names = [o.get("name") for _, o in done if isinstance(o, dict) and o.get("name")]
        if plan.await_operations:
            text += "; operations finished"
        elif names:
            text += "; operation" + ("s " if len(names) > 1 else " ") + ", ".join(names) + " started"
            text += " (add /*+ AWAIT */ to wait for it)"
    return text


def _partial_failure(plan: MutationPlan, failed: list[tuple[Call, Any]], done: list[tuple[Call, Any]]) -> ApiError:
    def label(call: Call) -> str:
        where = f"row {call.row}: " if call.row else ""
        return where + ", ".join(f"{k}={v!r}" for k, v in call.params.items())

    lines = [f"{len(failed)} of {len(plan.calls)} {plan.kind} requests on {plan.resource.id} failed:"]
    lines += [f"  {label(c)} -> {err}" for c, err in failed]
    if done:
        lines.append(f"{len(done)} succeeded: " + "; ".join(label(c) for c, _ in done))
    first = failed[0][1]
    return ApiError(
        "\n".join(lines),
        http_status=getattr(first, "http_status", None),
        status=getattr(first, "status", None),
        resource=plan.resource.id,
    )


def _rows_of(session: Session, plan: MutationPlan, responses: list[dict], returning: list | None) -> Result:
    """Responses as rows, typed by their schema: the list key when the response has one."""
    engine = session.engine
    method = plan.method
    service = plan.resource.service
    if plan.await_operations and method.returns_operation or (returning and plan.kind != "EXEC"):
        columns = plan.resource.columns()
        object_key = None
    else:
        columns = service.row_columns(method)
        object_key = method.object_key
    if not columns:
        columns = plan.resource.columns()
    key = session.next_key(plan.resource.id + "_response")
    engine.create_table(key, columns, plan.resource.param_names)
    try:
        for call, response in zip(plan.calls, responses, strict=False):
            body = json.dumps(response).encode()
            engine.load_page(key, body, object_key, call.params)
        if returning:
            select = ", ".join(e.sql(dialect="duckdb") for e in returning)
            return engine.query(f'SELECT {select} FROM "{key}"')
        return engine.query(f'SELECT * FROM "{key}"')
    except SqlError:
        raise
    finally:
        engine.drop(key)


def _dryrun(session: Session, plan: MutationPlan) -> Result:
    rows = [(plan.resource.id, plan.method.name, session_request(session, plan, c).describe()) for c in plan.calls]
    return Result.of_strings(["resource", "method", "request"], rows)


def _bind_qmarks(expression: exp.Expression, params: Sequence[Any] | None) -> exp.Expression:
    """Replace `?` placeholders with literals, in order (DB-API qmark style)."""
    if not params:
        return expression
    values = list(params)
    expression = expression.copy()
    marks = [p for p in expression.find_all(exp.Placeholder) if p.name in ("", "?")]
    if len(marks) != len(values):
        raise SqlError(f"the statement has {len(marks)} ? placeholders but {len(values)} parameters were given")
    for mark, value in zip(marks, values, strict=True):
        mark.replace(exp.convert(value))
    return expression
