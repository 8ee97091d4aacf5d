"""Run a mutation plan: send its calls concurrently, await operations, report what was done."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from skyql.errors import ApiError, SkyqlError
from skyql.plan.bind import bind_params
from skyql.plan.mutation import Call, Evaluate, MutationPlan, mutation_target, plan_exec, plan_mutation
from skyql.registry.model import Column
from skyql.result import Result
from skyql.sql import statements as st

if TYPE_CHECKING:
    from skyql.fetch import Fetcher, Request
    from skyql.session import Session

_PAST = {"INSERT": "inserted", "UPDATE": "updated", "REPLACE": "replaced", "DELETE": "deleted"}
# Names listed in a message before "and N more": a log line, not a dump.
_NAMES_SHOWN = 5
_BODY_SHOWN = 80


@dataclass
class Outcome:
    """What one call gave: its responses (one per page for a paging EXEC) or the error it raised."""

    call: Call
    responses: list[dict[str, Any]] = field(default_factory=list)
    error: SkyqlError | None = None


class _NeedsReads(Exception):  # noqa: N818 - control flow inside --dryrun, never seen by users
    """A --dryrun mutation whose rows come from API reads: show those reads instead of sending them."""

    def __init__(self, reads: Result) -> None:
        self.reads = reads  # the --dryrun rows of those reads


def run_mutation(session: Session, statement: st.Mutation | st.Exec, params: Sequence[Any] | None) -> Result:
    """Plan and run INSERT/UPDATE/REPLACE/DELETE/EXEC; the result holds RETURNING rows or EXEC's response."""
    if isinstance(statement, st.Exec):
        plan = plan_exec(
            statement.method, statement.params, statement.body, session.registry, statement.hints
        )
    else:
        expression = bind_params(statement.expression.copy(), params) if params else statement.expression
        try:
            plan = plan_mutation(
                statement.kind, expression, session.registry, _evaluator(session), statement.hints
            )
        except _NeedsReads as needs:
            return _dryrun_reads(session, statement, needs.reads)
    result = (
        _dryrun(session, plan)
        if session.options.dryrun
        else _result(session, plan, session.run_async(_send_all(session, plan)))
    )
    result.warnings.extend(plan.notices)
    return result


def _evaluator(session: Session) -> Evaluate:
    """Runs a mutation's SELECTs; under --dryrun only those that need no API call."""

    def evaluate(select: exp.Expression) -> Result:
        query = st.Query(select.sql(dialect="duckdb"), expression=select)
        if not session.options.dryrun:
            return session.execute(query)
        plan = session.plan(query)
        if plan.fetches or st.exec_tables(select):
            raise _NeedsReads(session.execute(query))  # under --dryrun: the requests it would send
        return session.engine.query(plan.local_sql)

    return evaluate


# -- sending --------------------------------------------------------------------------------------


async def _send_all(session: Session, plan: MutationPlan) -> list[Outcome]:
    """Every call concurrently, under one deadline and concurrency bound; outcomes in call order."""
    fetcher = session.fetcher()
    try:
        with fetcher.statement():
            return list(await asyncio.gather(*(_send(session, fetcher, plan, c) for c in plan.calls)))
    finally:
        await fetcher.aclose()


async def _send(session: Session, fetcher: Fetcher, plan: MutationPlan, call: Call) -> Outcome:
    method = plan.method
    try:
        request = _request(session, plan, call)
        if method.paging and method.http_method == "GET":
            # An EXEC of a list: every page, following nextPageToken.
            outcome = Outcome(call)
            async with contextlib.aclosing(fetcher.pages([request], plan.resource.id)) as pages:
                async for page in pages:
                    outcome.responses.append(json.loads(page.body) if page.body.strip() else {})
            return outcome
        response = await fetcher.call(request)
        if plan.await_operations and method.returns_operation:
            response = await fetcher.wait_operation(
                response, plan.resource.service, resource=plan.resource.id, params=call.params
            )
        return Outcome(call, [response])
    except SkyqlError as err:
        return Outcome(call, error=err)


def _request(session: Session, plan: MutationPlan, call: Call) -> Request:
    from skyql.fetch import build_request

    return build_request(
        plan.resource.service,
        call.method,
        call.params,
        endpoint=session.options.endpoints.get("google"),
        body=call.body,
    )


# -- the result -----------------------------------------------------------------------------------


def _result(session: Session, plan: MutationPlan, outcomes: list[Outcome]) -> Result:
    done = _succeeded(plan, outcomes)
    message = _message(plan, done)
    if plan.kind == "EXEC" or plan.returning:
        result = _rows_of(session, plan, done)
        result.message = message
        return result
    return Result([], [], [], message=message, affected=len(done))


def _succeeded(plan: MutationPlan, outcomes: list[Outcome]) -> list[Outcome]:
    """The outcomes, when every call succeeded; else the error (of the one call, or of those that failed)."""
    failed = [o for o in outcomes if o.error is not None]
    done = [o for o in outcomes if o.error is None]
    if failed:
        if len(outcomes) == 1 and failed[0].error is not None:
            raise failed[0].error
        raise _partial_failure(plan, failed, done)
    return done


def _message(plan: MutationPlan, done: list[Outcome]) -> str:
    """One line for the log: what was done, the resources created, the operations started or finished."""
    what = f"{plan.resource.id}.{plan.method.name}"
    count = len(done)
    names = [r["name"] for o in done for r in o.responses[:1] if isinstance(r.get("name"), str)]
    operations = ""
    if plan.method.returns_operation and names:
        operations = f"operation{'s' * (len(names) != 1)} {_names(names)} " + (
            "finished" if plan.await_operations else "started (add /*+ AWAIT */ to wait)"
        )
    if plan.kind == "EXEC":
        pages = sum(len(o.responses) for o in done)
        if operations:
            return f"{what}: {operations}"
        return f"{what}: done" + (f" ({pages} page{'s' * (pages != 1)})" if plan.method.paging else "")
    text = f"{count} row{'s' * (count != 1)} {_PAST[plan.kind]} ({what})"
    if operations:
        return f"{text}; {operations}"
    # A created resource's name (often chosen by the server) is what the next statement needs.
    return f"{text}: {_names(names)}" if plan.kind == "INSERT" and names else text


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    return shown + (f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else "")


def _partial_failure(plan: MutationPlan, failed: list[Outcome], done: list[Outcome]) -> ApiError:
    """Which requests failed and why, which succeeded (they stay done: nothing is rolled back)."""

    from skyql.fetch.secrets import masked

    def label(outcome: Outcome) -> str:
        call = outcome.call
        where = f"row {call.row}: " if call.row else ""
        text = where + ", ".join(f"{k}={v!r}" for k, v in call.params.items())
        if call.row and call.body:
            # An INSERT row is known by its body (jobId, displayName, ...) more than by its parent.
            body = json.dumps(masked(call.body), separators=(",", ":"))
            text += " " + (body if len(body) <= _BODY_SHOWN else body[: _BODY_SHOWN - 3] + "...")
        name = outcome.responses[0].get("name") if outcome.responses else None
        return text + (f" ({name})" if isinstance(name, str) else "")

    lines = [f"{len(failed)} of {len(plan.calls)} {plan.kind} requests on {plan.resource.id} failed:"]
    lines += [f"  {label(o)} -> {o.error}" for o in failed]
    if done:
        lines.append(f"{len(done)} succeeded and stay done:")
        lines += [f"  {label(o)}" for o in done]
    first = failed[0].error
    return ApiError(
        "\n".join(lines),
        http_status=getattr(first, "http_status", None),
        status=getattr(first, "status", None),
        resource=plan.resource.id,
    )


def _rows_of(session: Session, plan: MutationPlan, done: list[Outcome]) -> Result:
    """Responses as rows typed by their schema: the list items, the created resource, the final response."""
    columns, bodies, object_key = _responses(plan, done)
    if plan.kind == "EXEC" and not any(_has_rows(r, object_key) for _, r in bodies):
        return Result([], [], [])  # an empty answer (cancel, delete): the message says what happened
    key = session.next_key(plan.resource.id + "_response")
    try:
        _load(session, plan, done, key)
        select = ", ".join(e.sql(dialect="duckdb") for e in plan.returning) if plan.returning else "*"
        return session.engine.query(f'SELECT {select} FROM "{key}"')
    finally:
        session.engine.drop(key)


def _responses(
    plan: MutationPlan, done: list[Outcome]
) -> tuple[list[Column], list[tuple[Call, Any]], str | None]:
    """The answers to show as rows: (their columns, (call, response) pairs, the key of the rows in each)."""
    method = plan.method
    object_key = None if method.raw else method.object_key
    columns = plan.resource.service.row_columns(method)
    bodies = [(o.call, r) for o in done for r in o.responses]
    if plan.await_operations and method.returns_operation:
        results = [(call, _payload(r)) for call, r in bodies]
        if any(r for _, r in results):
            # The operation's response: the created or changed resource, typed by the resource's columns.
            bodies, object_key = results, None
            columns = _columns_for([r for _, r in results], plan.resource.columns())
    return columns, bodies, object_key


def _load(session: Session, plan: MutationPlan, done: list[Outcome], key: str) -> None:
    """The answers as rows of DuckDB table `key` (made even when there are none)."""
    columns, bodies, object_key = _responses(plan, done)
    if plan.kind == "EXEC":  # an empty answer (cancel's {}) is no row
        bodies = [(call, r) for call, r in bodies if _has_rows(r, object_key)]
    # RETURNING may name the parameters (jobsId, ...); EXEC shows what the API answered, nothing else.
    names = {c.name for c in columns}
    params = (
        []
        if plan.kind == "EXEC"
        else [p for p in dict.fromkeys(k for o in done for k in o.call.params) if p not in names]
    )
    engine = session.engine
    engine.create_table(key, columns, params)
    for call, response in bodies:
        partition = {p: call.params.get(p) for p in params}
        engine.load_page(key, json.dumps(response).encode(), object_key, partition)
    engine.flush(key)


def exec_into_table(session: Session, statement: st.Exec, key: str) -> None:
    """Run an EXEC and leave the rows it shows in DuckDB table `key`: `SELECT ... FROM (EXEC ...)`."""
    plan = plan_exec(statement.method, statement.params, statement.body, session.registry, statement.hints)
    outcomes = session.run_async(_send_all(session, plan))
    _load(session, plan, _succeeded(plan, outcomes), key)


def exec_dryrun(session: Session, statement: st.Exec) -> Result:
    """The request an EXEC would send, as --dryrun shows it."""
    plan = plan_exec(statement.method, statement.params, statement.body, session.registry, statement.hints)
    return _dryrun(session, plan)


def _has_rows(response: dict[str, Any], object_key: str | None) -> bool:
    if object_key is None:
        return bool(response)
    return bool(response.get(object_key.removeprefix("$.")))


def _payload(operation: dict[str, Any]) -> dict[str, Any]:
    """A finished operation's response without its `@type`; {} when it has none (a delete's Empty)."""
    response = operation.get("response")
    if not isinstance(response, dict):
        return {}
    return {k: v for k, v in response.items() if k != "@type"}


def _columns_for(objects: list[dict[str, Any]], known: list[Column]) -> list[Column]:
    """`known` columns when they cover every key of `objects`, else columns guessed from the JSON values."""
    keys = list(dict.fromkeys(k for o in objects for k in o))
    names = {c.name for c in known}
    if known and all(k in names for k in keys):
        return known
    guessed: dict[str, Column] = {}
    for obj in objects:
        for name, value in obj.items():
            if name not in guessed or value is not None:
                guessed[name] = Column(name, _json_type(value))
    return list(guessed.values())


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


# -- --dryrun -------------------------------------------------------------------------------------


def _dryrun(session: Session, plan: MutationPlan) -> Result:
    rows = [(plan.resource.id, plan.method.name, _request(session, plan, c).describe()) for c in plan.calls]
    return Result.of_strings(["resource", "method", "request"], rows)


def _dryrun_reads(session: Session, statement: st.Mutation, result: Result) -> Result:
    """The reads that would choose the rows (`result`), then the one request per row that would follow."""
    resource, method = mutation_target(statement.kind, statement.expression, session.registry)
    service = resource.service
    endpoint = session.options.endpoints.get("google")
    base = endpoint.rstrip("/") + "/" + service.service_path if endpoint else service.base_url
    line = f"{method.http_method} {base}{method.path}  -- one per row the reads above return"
    result.rows.append((resource.id, method.name, line))
    return result


# -- DB-API ---------------------------------------------------------------------------------------
