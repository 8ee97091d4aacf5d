"""A SQLAlchemy 2 dialect, `skyql://`: engines, pandas.read_sql, reflection of services and resources.

    create_engine("skyql://")                                    credentials and endpoint from the environment
    create_engine("skyql://?endpoint=http://127.0.0.1:8089&auth=%7B...%7D")   auth: URL-encoded auth JSON
    create_engine("skyql://?emulator=true")                      skyql's own local emulator

A schema is a service, "google.ml"; its tables are the service's resources ("jobs"), so
`Table("jobs", MetaData(), schema="google.ml", autoload_with=engine)` renders as google.ml.jobs.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sqlalchemy import exc, types
from sqlalchemy.engine import Connection, default, reflection
from sqlalchemy.engine.url import URL
from sqlalchemy.sql import compiler

import skyql
import skyql.dbapi
from skyql.dbapi.types import base_type
from skyql.errors import NotFoundError
from skyql.registry import Registry

# URL query keys and how their text becomes a connect() keyword; other keys reach connect() as text.
_BOOLEANS = frozenset(
    {"emulator", "safe", "insecure", "allow_partial", "pushdown", "dryrun", "allow_registry_pull"}
)
_INTEGERS = frozenset({"concurrency", "retries", "page_size"})
_FLOATS = frozenset({"timeout", "poll_interval", "max_response_mb"})
URL_OPTIONS = frozenset({"endpoint", "auth"}) | _BOOLEANS | _INTEGERS | _FLOATS
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})

_SQLALCHEMY_TYPES: dict[str, Any] = {
    "VARCHAR": types.String,
    "JSON": types.JSON,
    "UUID": types.Uuid,
    "BOOLEAN": types.Boolean,
    "TINYINT": types.SmallInteger,
    "SMALLINT": types.SmallInteger,
    "INTEGER": types.Integer,
    "BIGINT": types.BigInteger,
    "UBIGINT": types.BigInteger,
    "HUGEINT": types.Numeric,
    "FLOAT": types.Float,
    "REAL": types.Float,
    "DOUBLE": types.Double,
    "DECIMAL": types.Numeric,
    "DATE": types.Date,
    "TIME": types.Time,
    "TIMESTAMP": types.DateTime,
    "TIMESTAMPTZ": lambda: types.DateTime(timezone=True),
    "TIMESTAMP WITH TIME ZONE": lambda: types.DateTime(timezone=True),
    "INTERVAL": types.Interval,
    "BLOB": types.LargeBinary,
}


def sqlalchemy_type(type_name: str) -> types.TypeEngine:
    """The SQLAlchemy type for a DuckDB type name (NullType when there is no good match)."""
    factory = _SQLALCHEMY_TYPES.get(base_type(type_name))
    return factory() if factory else types.NullType()


def connect_args(url: URL) -> dict[str, Any]:
    """skyql.connect() keywords from a skyql:// URL's query."""
    if url.host or url.database or url.username or url.port:
        raise exc.ArgumentError(
            f"a skyql URL has no host or database, only options: skyql://?endpoint={url.host or 'URL'} "
            "(and &auth=<URL-encoded auth JSON>, &emulator=true, ...)"
        )
    kwargs: dict[str, Any] = {}
    endpoints: dict[str, str] = {}
    for key, raw in url.query.items():
        values = [raw] if isinstance(raw, str) else list(raw)
        if key == "endpoint":
            for value in values:
                provider, sep, address = value.partition("=")
                # Either a bare URL (google's) or PROVIDER=URL, as the CLI's --endpoint takes it.
                if sep and "://" not in provider:
                    endpoints[provider] = address
                else:
                    endpoints["google"] = value
            continue
        value = values[-1]
        if key in _BOOLEANS:
            if value.lower() not in _TRUE | _FALSE:
                raise exc.ArgumentError(f"{key}={value!r} in a skyql URL: use true or false")
            kwargs[key] = value.lower() in _TRUE
        elif key in _INTEGERS:
            kwargs[key] = _number(key, value, int)
        elif key in _FLOATS:
            kwargs[key] = _number(key, value, float)
        else:
            kwargs[key] = value
    if endpoints:
        kwargs["endpoints"] = endpoints
    return kwargs


def _number(key: str, value: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(value)
    except ValueError:
        raise exc.ArgumentError(f"{key}={value!r} in a skyql URL is not a number") from None


class SkyqlIdentifierPreparer(compiler.IdentifierPreparer):
    """Writes a schema such as "google.ml" as the dotted path skyql reads, not as one quoted name."""

    def quote_schema(self, schema: str) -> str:
        return ".".join(self.quote(part) for part in schema.split("."))


class SkyqlDialect(default.DefaultDialect):
    """SQLAlchemy dialect for skyql: SQL over Google Cloud APIs through skyql.dbapi."""

    name = "skyql"
    driver = "skyql"
    supports_statement_cache = True
    preparer = SkyqlIdentifierPreparer
    default_paramstyle = "qmark"
    supports_native_boolean = True
    supports_native_decimal = True
    supports_alter = False
    supports_sequences = False
    supports_comments = True
    supports_schemas = True
    postfetch_lastrowid = False

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        return skyql.dbapi

    @classmethod
    def dbapi(cls) -> ModuleType:  # type: ignore[override]
        """The DB-API module, as SQLAlchemy 1.x asked for it (2.x calls import_dbapi)."""
        return skyql.dbapi

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        return [], connect_args(url)

    # -- connections without transactions ----------------------------------------------------------
    def do_ping(self, dbapi_connection: Any) -> bool:
        """The session is local; an API outage shows on the statement that needs the API."""
        return not dbapi_connection.closed

    def do_rollback(self, dbapi_connection: Any) -> None:
        """Nothing to undo: each statement was applied when it ran (the pool calls this on every return)."""

    def do_commit(self, dbapi_connection: Any) -> None:
        dbapi_connection.commit()

    def get_isolation_level(self, dbapi_connection: Any) -> str:
        return "AUTOCOMMIT"

    def get_default_isolation_level(self, dbapi_connection: Any) -> str:
        return "AUTOCOMMIT"

    def get_isolation_level_values(self, dbapi_connection: Any) -> list[str]:
        return ["AUTOCOMMIT"]

    def set_isolation_level(self, dbapi_connection: Any, level: str) -> None:
        """Only AUTOCOMMIT exists, and SQLAlchemy checks the level against get_isolation_level_values."""

    def _get_server_version_info(self, connection: Connection) -> tuple[int, ...]:
        return tuple(int(part) for part in skyql.__version__.split(".") if part.isdigit())

    def _get_default_schema_name(self, connection: Connection) -> str | None:
        return None

    # -- reflection: services are schemas, resources are tables ------------------------------------
    @reflection.cache
    def get_schema_names(self, connection: Connection, **kw: Any) -> list[str]:
        registry = _registry(connection)
        return [
            f"{name}.{service['name']}"
            for name in registry.provider_names
            for service in registry.provider(name).index["services"]
        ]

    @reflection.cache
    def get_table_names(self, connection: Connection, schema: str | None = None, **kw: Any) -> list[str]:
        if schema is None:
            return []
        provider, service = _split_schema(schema)
        try:
            return sorted(_registry(connection).service(provider, service).resources)
        except NotFoundError as err:
            raise skyql.dbapi.ProgrammingError(str(err)) from err

    def get_view_names(self, connection: Connection, schema: str | None = None, **kw: Any) -> list[str]:
        return []

    def has_table(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> bool:
        if schema is None:
            return False
        try:
            _registry(connection).lookup(f"{schema}.{table_name}")
        except NotFoundError:
            return False
        return True

    @reflection.cache
    def get_columns(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        from skyql.engine.loader import TableSpec

        if not self.has_table(connection, table_name, schema):
            raise exc.NoSuchTableError(f"{schema}.{table_name}" if schema else table_name)
        resource = _registry(connection).lookup(f"{schema}.{table_name}")
        # The engine's own table layout: row columns, then the parameter columns a WHERE can set.
        spec = TableSpec.build(resource.id, resource.columns(), resource.param_names)
        comments = {c.name: c.description for c in resource.columns()}
        columns = [_column(name, type_name, comments.get(name) or None) for name, type_name in spec.columns]
        columns += [_column(name, "VARCHAR", "parameter: set it in WHERE") for name in spec.params]
        return columns

    @reflection.cache
    def get_table_comment(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        from skyql.metadata import resource_description

        if not self.has_table(connection, table_name, schema):
            raise exc.NoSuchTableError(f"{schema}.{table_name}" if schema else table_name)
        return {"text": resource_description(_registry(connection).lookup(f"{schema}.{table_name}")) or None}

    def get_pk_constraint(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        return {"constrained_columns": [], "name": None}

    def get_foreign_keys(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        return []

    def get_indexes(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        return []


def _column(name: str, type_name: str, comment: str | None) -> dict[str, Any]:
    return {
        "name": name,
        "type": sqlalchemy_type(type_name),
        "nullable": True,
        "default": None,
        "autoincrement": False,
        "comment": comment,
    }


def _registry(connection: Connection) -> Registry:
    return connection.connection.dbapi_connection.session.registry  # type: ignore[union-attr]


def _split_schema(schema: str) -> tuple[str, str]:
    provider, sep, service = schema.partition(".")
    if not sep or not provider or not service or "." in service:
        raise skyql.dbapi.ProgrammingError(
            f"a skyql schema is provider.service, e.g. google.ml, not {schema!r}"
        )
    return provider, service
