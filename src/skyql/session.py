"""Session: what lives longer than a statement, and `execute`, the one entry point for every door."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyql.errors import ApiError, ConfigError, SkyqlError, SqlError, did_you_mean
from skyql.registry import Registry
from skyql.result import Result

if TYPE_CHECKING:
    from skyql.engine import Engine
    from skyql.plan.model import Fetch, Plan
    from skyql.runner import StatementLoop
    from skyql.sql import statements as st


@dataclass
class Options:
    """Options a user sets per session (CLI flags, connect() keywords)."""

    auth: dict | str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    concurrency: int = 16
    retries: int = 5
    timeout: float = 600.0
    page_size: int | None = None
    dryrun: bool = False
    safe: bool = False
    insecure: bool = False
    allow_partial: bool = False
    pushdown: bool = True  # send Google's `fields` parameter with the columns a query uses
    poll_interval: float = 0.5  # first wait (s) before re-reading a long-running operation under /*+ AWAIT */
    # REGISTRY PULL rewrites the installed registry from the network: None allows it except under `safe`
    # (connect() passes False unless asked); True or False decide.
    allow_registry_pull: bool | None = None
    max_response_mb: float = 128.0  # largest answer read, decompressed (a gzip bomb stops here)


def build_options(
    auth: Any = None, endpoints: Any = None, *, emulator: bool = False, **settings: Any
) -> Options:
    """Options from what a user gave (the CLI's flags, connect()'s keywords), then the environment.

    `auth` is StackQL's auth JSON as text or a mapping; `endpoints` maps providers to URLs. Unset, they
    come from SKYQL_AUTH and SKYQL_ENDPOINT_GOOGLE, except with the emulator, which brings its own.
    """
    from collections.abc import Mapping

    if endpoints is not None and not isinstance(endpoints, Mapping):
        raise ConfigError('endpoints must map a provider to a URL, e.g. {"google": "http://127.0.0.1:8089"}')
    concurrency = settings.get("concurrency", 16)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number of at least 1, not {concurrency!r}")
    options = Options(
        auth=parse_auth(auth) if isinstance(auth, str) else (dict(auth) if auth is not None else None),
        endpoints=dict(parse_endpoint(f"{provider}={url}") for provider, url in (endpoints or {}).items()),
        **settings,
    )
    if not emulator:
        options = options_from_env(options)
        if isinstance(options.auth, str):
            options.auth = parse_auth(options.auth)
    return options


def _response_limit(mb: Any) -> int:
    """max_response_mb as bytes, or a ConfigError for a value that is not a positive number."""
    if isinstance(mb, bool) or not isinstance(mb, int | float) or not 0 < mb < float("inf"):
        raise ConfigError(f"max_response_mb must be a number of megabytes more than 0, not {mb!r}")
    return max(1, int(mb * 2**20))


def options_from_env(options: Options, env: os._Environ | dict = os.environ) -> Options:
    """Fill what the user did not set from SKYQL_AUTH and SKYQL_ENDPOINT_GOOGLE."""
    if options.auth is None and env.get("SKYQL_AUTH"):
        options.auth = env["SKYQL_AUTH"]
    if "google" not in options.endpoints and env.get("SKYQL_ENDPOINT_GOOGLE"):
        _check_endpoint_url(env["SKYQL_ENDPOINT_GOOGLE"])
        options.endpoints["google"] = env["SKYQL_ENDPOINT_GOOGLE"]
    return options


class Session:
    """Holds the registry, credentials, the DuckDB engine and options; runs statements."""

    def __init__(
        self, options: Options | None = None, *, registry: Registry | None = None, emulator: bool = False
    ) -> None:
        self.options = options or Options()
        self.registry = registry or Registry()
        self._engine: Engine | None = None
        self._credentials: Any = None
        self._credentials_loaded = False
        self._emulator: Any = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._counter = itertools.count(1)
        # Progress observer, on_event(kind, **info): the shell's live status line sets it.
        self.progress: Any = None
        self._warnings: list[str] = []
        # cancel() from another thread: the running statement's loop and task, and whether it was asked.
        self._cancel_lock = threading.Lock()
        self._local_sql = False  # the statement's local SQL is running on the engine (cancel interrupts it)
        self._running: tuple[Any, Any] | None = None
        self._loop: StatementLoop | None = None  # made by the first statement that sends requests
        self._cancelled = False
        self._depth = 0
        if emulator:
            self._start_emulator()

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._emulator is not None:
            self._emulator.__exit__(None, None, None)
            self._emulator = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_emulator(self) -> None:
        """Start the embedded emulator and point endpoint and credentials at it."""
        from skyql.emulator import Emulator

        self._emulator = Emulator().__enter__()
        self._tmp = tempfile.TemporaryDirectory(prefix="skyql-")
        key = self._emulator.make_key(Path(self._tmp.name) / "emulator-key.json")
        self.options.endpoints["google"] = self._emulator.url
        self.options.auth = {"google": {"type": "service_account", "credentialsfilepath": str(key)}}

    @property
    def emulator(self) -> Any:
        return self._emulator

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from skyql.engine import Engine

            self._engine = Engine(safe=self.options.safe)
        return self._engine

    @property
    def credentials(self) -> Any:
        if not self._credentials_loaded:
            from skyql.fetch import load_credentials
            from skyql.fetch.tokencache import default_cache

            # Tokens are shared between processes, but not for the embedded emulator's one-off key, nor when
            # --insecure may send them over plain http to another host.
            share = self._emulator is None and not self.options.insecure
            self._credentials = load_credentials(self.options.auth, cache=default_cache() if share else None)
            self._credentials_loaded = True
        return self._credentials

    def credentials_summary(self) -> str:
        """Which credentials are in use, never the secret: 'service account sa@p.iam... (key file)'."""
        creds = self.credentials
        if creds is None:
            return "none (anonymous requests)"
        email = getattr(creds, "service_account_email", None)
        if email and email != "default":
            source = "emulator key" if self._emulator is not None else "key"
            return f"service account {email} ({source})"
        kind = type(creds).__name__
        account = getattr(creds, "account", None) or getattr(creds, "quota_project_id", None)
        return f"{kind} (application default credentials{', ' + account if account else ''})"

    # -- statements ------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop the statement running in another thread (a closed connection, a UI's stop button).

        Every request in flight is abandoned, a running local query interrupted, and the statement raises
        ApiError; safe from any thread.
        """
        with self._cancel_lock:
            self._cancelled = True
            running = self._running
            # Only while the statement's own SQL runs: an interrupt would stop whatever runs on the connection.
            if self._local_sql and self._engine is not None:
                self._engine.interrupt()  # a long local query (a cross join, a big sort) stops too
        if running is not None:
            loop, task = running
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing left to stop
                loop.call_soon_threadsafe(task.cancel)

    def execute(self, statement: str | st.Statement, params: Sequence[Any] | None = None) -> Result:
        """Run one statement and return its result."""
        if self._depth == 0:
            self._cancelled = False  # a cancel() between statements is not meant for this one
        self._depth += 1
        try:
            return self._execute(statement, params)
        finally:
            self._depth -= 1

    def _execute(self, statement: str | st.Statement, params: Sequence[Any] | None) -> Result:
        # Imported here, not at module level: the shell shows its prompt before sqlglot is loaded.
        from skyql import metadata
        from skyql.sql import parse_one
        from skyql.sql import statements as st

        if isinstance(statement, str):
            statement = parse_one(statement)
        if isinstance(statement, st.RegistryPull):
            return self._registry_pull(statement)
        if isinstance(statement, st.Query):
            return self._query(statement, params)
        if isinstance(statement, st.Mutation | st.Exec):
            from skyql.mutate import run_mutation

            try:
                return run_mutation(self, statement, params)
            except RecursionError:
                raise _too_deep() from None
        return metadata.run(statement, self.registry)

    def _registry_pull(self, statement: st.RegistryPull) -> Result:
        from skyql.registry.pull import DISCOVERY_URL, pull_provider

        allowed = self.options.allow_registry_pull
        if not (allowed if allowed is not None else not self.options.safe):
            raise ConfigError(
                "REGISTRY PULL rewrites the installed registry and is off here (--safe, or a DB-API connection);"
                " allow it with --allow-registry-pull or connect(allow_registry_pull=True)"
            )
        if self.options.dryrun:  # --dryrun sends nothing, not even to the Discovery service
            return Result.of_strings(["provider", "request"], [(statement.provider, f"GET {DISCOVERY_URL}")])
        index = pull_provider(statement.provider, self.registry.root)
        self.registry = Registry(self.registry.root)
        return Result.of_strings(["provider", "version"], [(statement.provider, index["version"])])

    # -- SELECT ----------------------------------------------------------------------------------
    def plan(self, statement: st.Query, params: Sequence[Any] | None = None) -> Plan:
        from skyql.plan import plan_query

        try:
            return plan_query(statement.expression, self.registry, list(params) if params else None)
        except RecursionError:
            # sqlglot walks scopes and writes SQL recursively: nesting the parser took can still be too deep.
            raise _too_deep() from None

    def _query(self, statement: st.Query, params: Sequence[Any] | None) -> Result:
        from skyql.sql.statements import exec_tables

        if exec_tables(statement.expression):
            return self._query_over_execs(statement, params)
        plan = self.plan(statement, params)
        if self.options.dryrun:
            return self.dryrun_result(plan)
        self._warnings = []
        try:
            if plan.fetches:
                self.run_async(self._fetch_all(plan))
            try:
                with self._local_query():
                    result = self.engine.query(plan.local_sql)
            except SqlError as err:
                if self._cancelled:
                    raise ApiError(
                        "cancelled: the statement was stopped while DuckDB ran its local SQL",
                        status="CANCELLED",
                    ) from None
                raise _unknown_column(plan, err) from None
            result.warnings.extend(self._warnings)
            return result
        finally:
            for fetch in plan.fetches:
                self.engine.drop(fetch.key)

    def _query_over_execs(self, statement: st.Query, params: Sequence[Any] | None) -> Result:
        """`SELECT ... FROM (EXEC ...)`: each EXEC runs first, its rows a table the query then reads."""
        from sqlglot import exp

        from skyql.mutate import exec_dryrun, exec_into_table
        from skyql.sql import statements as st

        expression = statement.expression.copy()
        tables = st.exec_tables(expression)
        if self.options.dryrun:
            rows = [row for table in tables for row in exec_dryrun(self, table.meta[st.EXEC_META]).rows]
            result = self.dryrun_result(self.plan(statement, params))
            result.rows[:0] = rows
            return result
        keys: list[str] = []
        try:
            for table in tables:
                key = self.next_key("exec")
                keys.append(key)
                exec_into_table(self, table.meta.pop(st.EXEC_META), key)
                table.set("this", exp.to_identifier(key, quoted=True))
            return self._query(st.Query(statement.text, expression=expression), params)
        finally:
            for key in keys:
                self.engine.drop(key)

    @contextlib.contextmanager
    def _local_query(self) -> Iterator[None]:
        """Mark the statement's own SQL as running on the engine: cancel() interrupts it only then."""
        with self._cancel_lock:
            self._local_sql = True
        try:
            yield
        finally:
            with self._cancel_lock:
                self._local_sql = False

    def run_async(self, coro: Any) -> Any:
        """Run a coroutine to completion, also from inside a running loop (on a worker thread then);
        Ctrl-C cancels it and every request in flight."""
        import asyncio  # not at module level: metadata statements must start fast

        async def cancellable() -> Any:
            with self._cancel_lock:
                if self._cancelled:
                    coro.close()
                    raise asyncio.CancelledError
                self._running = (asyncio.get_running_loop(), asyncio.current_task())
            try:
                return await coro
            finally:
                with self._cancel_lock:
                    self._running = None

        try:
            return self._statement_loop().run(cancellable())
        except KeyboardInterrupt:
            raise
        except SkyqlError:
            raise
        except asyncio.CancelledError:
            if self._cancelled:
                raise ApiError(
                    "cancelled: the statement was stopped and its requests in flight abandoned",
                    status="CANCELLED",
                ) from None
            raise
        except ExceptionGroup as group:
            # TaskGroup wraps errors; show the user the first skyql error, not the group.
            first = _first_skyql_error(group)
            if first is not None:
                raise first from None
            raise

    def _statement_loop(self) -> StatementLoop:
        if self._loop is None:
            import weakref

            from skyql.runner import StatementLoop

            self._loop = StatementLoop()
            # A session nobody closes still closes its connections (when collected, or at exit), quietly.
            weakref.finalize(self, self._loop.close)
        return self._loop

    def fetcher(self) -> Any:
        from skyql.fetch import Fetcher, FetchOptions

        o = self.options
        return Fetcher(
            self.credentials,
            FetchOptions(
                concurrency=o.concurrency,
                retries=o.retries,
                timeout=o.timeout,
                page_size=o.page_size,
                endpoint=o.endpoints.get("google"),
                insecure=o.insecure,
                allow_partial=o.allow_partial,
                poll_interval=o.poll_interval,
                max_response_bytes=_response_limit(o.max_response_mb),
                on_event=self.progress,
            ),
            wire=self._loop.wire() if self._loop is not None else None,
        )

    async def _fetch_all(self, plan: Plan) -> None:
        fetcher = self.fetcher()
        try:
            # One deadline, concurrency bound and 429 throttling for the whole statement.
            with fetcher.statement():
                for fetch in plan.fetches:
                    await self._fetch_one(fetcher, fetch)
        finally:
            self._warnings.extend(_partial_warning(w) for w in fetcher.warnings)
            await fetcher.aclose()

    def requests_for(self, fetch: Fetch, partitions: list[dict[str, Any]]) -> list[Any]:
        from skyql.fetch import build_request

        service = fetch.resource.service
        fields = _read_columns(fetch) if self.options.pushdown else None
        return [
            build_request(
                service,
                fetch.method,
                part,
                endpoint=self.options.endpoints.get("google"),
                fields=fields,
                page_size=self.options.page_size,
            )
            for part in partitions
        ]

    def _partitions(self, fetch: Fetch) -> list[dict[str, Any]]:
        """Literal partitions, multiplied by the distinct values of join-derived parameters."""
        partitions = fetch.partitions or [{}]
        for join in fetch.joins:
            values = [v for v in self.engine.distinct(join.source, join.column, join.where) if v is not None]
            partitions = [dict(p, **{join.param: str(v)}) for p in partitions for v in values]
        return partitions

    async def _fetch_one(self, fetcher: Any, fetch: Fetch) -> None:
        from skyql.fetch.build import aggregated_rows

        engine = self.engine
        resource = fetch.resource
        # Path parameters of every SELECT method, plus the query parameters this statement gives (filter, ...).
        params = list(dict.fromkeys([*resource.param_names, *fetch.param_columns]))
        # Only the columns the statement reads are parsed out of the pages: a third of the load time for one
        # column of ml jobs, whether or not `fields` pushdown trimmed the pages.
        read = _read_columns(fetch)
        columns = [c for c in resource.columns(fetch.method) if read is None or c.name in read]
        engine.create_table(fetch.key, columns or resource.columns(fetch.method), params)
        partitions = self._partitions(fetch)
        if not partitions:
            return
        requests = self.requests_for(fetch, partitions)
        key = None if fetch.method.raw else fetch.method.object_key
        scoped = None if fetch.method.raw else fetch.method.scoped_key
        if scoped:
            key = "$." + scoped  # an aggregatedList's pages are flattened to plain list pages below
        try:
            # aclosing: a LIMIT that stops early cancels the requests still in flight at once.
            # A pinned item (or a list's parent) that does not exist is zero rows, as in StackQL: the
            # `SELECT COUNT(*) ... WHERE name = '...'` existence checks of stackql-deploy rely on it.
            async with contextlib.aclosing(
                fetcher.pages(requests, fetch.key, limit=fetch.limit, missing_ok=True)
            ) as pages:
                async for page in pages:
                    body = aggregated_rows(page.body, scoped) if scoped else page.body
                    engine.load_page(
                        fetch.key, body, key, page.partition, status=page.status, number=page.number
                    )
                    if self.progress is not None:
                        self.progress("page", resource=fetch.resource.id, number=page.number)
            engine.flush(fetch.key)
        except ApiError as err:
            raise _unreadable(fetch, err) from None
        self._fill_ids(fetch, params, partitions)

    def _fill_ids(self, fetch: Fetch, params: list[str], partitions: list[dict[str, Any]]) -> None:
        """After a list, give each row the id parameters its request did not carry (for `jobsId IN (...)`)."""
        given = {k for p in partitions for k in p}
        for param, source in fetch.resource.id_sources().items():
            if param in given or param not in params or not fetch.reads_param(param):
                continue
            column = '"' + param.replace('"', '""') + '"'
            if source[0] == "name":
                value = f"regexp_extract(name, '{source[1]}', {source[2]})"
            else:
                value = '"' + source[1].replace('"', '""') + '"'
            self.engine.query(f'UPDATE "{fetch.key}" SET {column} = {value} WHERE {column} IS NULL')

    def dryrun_result(self, plan: Plan) -> Result:
        """The requests a plan would send, one per row (no tokens, nothing sent)."""
        rows = []
        for fetch in plan.fetches:
            partitions = fetch.partitions or [{}]
            # Join-derived values are only known at run time: show them as {param} in the URL.
            marks = {j.param: f"JOINVALUE{i}" for i, j in enumerate(fetch.joins)}
            partitions = [dict(p, **marks) for p in partitions]
            for req in self.requests_for(fetch, partitions):
                line = req.describe()
                for join, mark in zip(fetch.joins, marks.values(), strict=True):
                    line = line.replace(mark, "{" + join.param + "}")
                if fetch.joins:
                    line += "  -- one per " + ", ".join(
                        f"{j.param} = distinct {j.source}.{j.column}"
                        + (f" where {j.where}" if j.where else "")
                        for j in fetch.joins
                    )
                rows.append((fetch.resource.id, fetch.method.name, line))
        return Result.of_strings(["resource", "method", "request"], rows)

    def next_key(self, resource_id: str) -> str:
        return f"{resource_id.replace('.', '_')}_{next(self._counter)}"


def _too_deep() -> SkyqlError:
    from skyql.errors import SqlError
    from skyql.sql.parser import TOO_DEEP

    return SqlError(TOO_DEEP)


def _unreadable(fetch: Fetch, error: ApiError) -> ApiError:
    """A page the engine could not load names its resource and partition, as fetch errors do."""
    if error.resource:
        return error
    label = ", ".join(f"{k}={v!r}" for k, v in error.params.items())
    where = f"{fetch.resource.id} ({label})" if label else fetch.resource.id
    return ApiError(
        f"{where}: {error}",
        http_status=error.http_status,
        status=error.status,
        resource=fetch.resource.id,
        params=error.params,
    )


def _read_columns(fetch: Fetch) -> list[str] | None:
    """The row columns a fetch needs (None: all): the statement's, plus those listed rows derive the id
    parameters the statement reads from (see Session._fill_ids)."""
    if fetch.columns is None:
        return None
    derived = [
        src[1] if src[0] == "column" else "name"
        for param, src in fetch.resource.id_sources().items()
        if fetch.reads_param(param)
    ]
    return list(dict.fromkeys([*fetch.columns, *derived]))


_UNKNOWN_COLUMN = re.compile(r'Referenced column "([^"]+)" not found|does not have a column named "([^"]+)"')


def _unknown_column(plan: Plan, error: SqlError) -> SqlError:
    """DuckDB lists only the loaded columns as candidates: name the resources' own columns instead."""
    found = _UNKNOWN_COLUMN.search(str(error))
    if found is None or not plan.fetches:
        return error
    name = found.group(1) or found.group(2)
    names: dict[str, list[str]] = {}
    for fetch in plan.fetches:
        resource = fetch.resource
        names.setdefault(
            resource.id, [*(c.name for c in resource.columns(fetch.method)), *resource.param_names]
        )
    if any(name.lower() == n.lower() for known in names.values() for n in known):
        return error  # a real column a CTE or subquery did not pass on: DuckDB's message is the right one
    ids = list(names)
    from skyql.plan.refs import Names

    pages = {f.resource.id: Names.of(f.resource).pages for f in plan.fetches}
    paged = [(rid, fields[name.lower()], fields) for rid, fields in pages.items() if name.lower() in fields]
    if paged:
        rid, field, fields = paged[0]
        return SqlError(
            f"{field} is a field of the response pages of {rid}, not of its rows: a SELECT that reads "
            f"only fields of the pages ({', '.join(sorted(fields.values()))}) and parameters gets one "
            "row per page; read it in a SELECT of its own"
        )
    query = [
        p.name
        for f in plan.fetches
        for m in f.resource.methods_for("SELECT")
        for p in m.query_params
        if p.name.lower() == name.lower()
    ]
    if query:
        # A query parameter is a column only where WHERE gives it with = or IN: that value is what is sent.
        return SqlError(
            f"{query[0]} is a query parameter of {ids[0]}, a column only when WHERE gives it with = or IN"
            f" (e.g. AND {query[0]} = '...', sent to the API); it cannot be read or compared otherwise"
        )
    where = f"{ids[0]} has no" if len(ids) == 1 else f"none of {', '.join(ids)} has a"
    hint = did_you_mean(name, [n for known in names.values() for n in known])
    return SqlError(
        f"unknown column {name}: {where} column or parameter of that name{hint}; DESCRIBE {ids[0]} lists them"
    )


def _partial_warning(error: SkyqlError) -> str:
    return f"rows missing (--allow-partial): {error}"


def _first_skyql_error(group: BaseExceptionGroup) -> SkyqlError | None:
    for exc in group.exceptions:
        if isinstance(exc, SkyqlError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_skyql_error(exc)
            if found is not None:
                return found
    return None


def parse_endpoint(text: str) -> tuple[str, str]:
    """'google=http://127.0.0.1:8089' -> ('google', 'http://127.0.0.1:8089')."""
    provider, sep, url = text.partition("=")
    if not sep or not provider or not url.startswith(("http://", "https://")):
        raise ConfigError(f"bad endpoint {text!r}: use PROVIDER=URL, e.g. google=http://127.0.0.1:8089")
    url = url.strip().rstrip("/")
    _check_endpoint_url(url)
    return provider.strip(), url


def _check_endpoint_url(url: str) -> None:
    """An endpoint is scheme://host[:port][/path]: parsers disagree on anything odder, so it is refused."""
    from urllib.parse import urlsplit

    why = ""
    if "\\" in url or any(c.isspace() or ord(c) < 0x20 for c in url):
        why = "it holds a backslash, a space or a control character"
    else:
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            why = "its port is not a number from 1 to 65535"
        else:
            if "@" in parts.netloc:
                why = "it holds a user name or password (give credentials with --auth)"
            elif not parts.hostname:
                why = "it names no host"
            elif parts.port == 0:
                why = "its port is not a number from 1 to 65535"
            elif parts.query or parts.fragment:
                why = "it holds a ?query or #fragment"
    if why:
        # The URL is not echoed: a user:password in it would land in a log.
        raise ConfigError(f"bad endpoint URL: {why}; expected e.g. http://127.0.0.1:8089")


def parse_auth(text: str | None) -> dict | None:
    """The --auth / SKYQL_AUTH JSON; a bad value is a ConfigError that does not echo it (it may hold secrets)."""
    if text is None or text == "":
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ConfigError(
            'the auth value is not valid JSON; expected e.g. {"google": {"type": "service_account", '
            '"credentialsfilepath": "key.json"}}'
        ) from None
    if not isinstance(value, dict):
        raise ConfigError('the auth value must be a JSON object keyed by provider, e.g. {"google": {...}}')
    return value


__all__ = ["Options", "Session", "build_options", "options_from_env", "parse_auth", "parse_endpoint"]
