"""The statements skyql understands: sqlglot expressions for standard SQL, dataclasses for StackQL's extras."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp


@dataclass
class Statement:
    text: str  # the statement's source text (for errors and logs)
    hints: frozenset[str] = field(default_factory=frozenset, kw_only=True)  # AWAIT, SHOWRESULTS, REQUIRED
    line: int = field(default=1, kw_only=True)  # first line in its script


@dataclass
class ShowProviders(Statement):
    where: exp.Expression | None = None
    like: str | None = None


@dataclass
class ShowServices(Statement):
    provider: str
    extended: bool = False
    like: str | None = None
    where: exp.Expression | None = None


@dataclass
class ShowResources(Statement):
    service: str  # "google.aiplatform"
    extended: bool = False
    like: str | None = None
    where: exp.Expression | None = None


@dataclass
class ShowMethods(Statement):
    resource: str  # "google.aiplatform.hyperparameter_tuning_jobs"
    extended: bool = False
    like: str | None = None
    where: exp.Expression | None = None


@dataclass
class Describe(Statement):
    resource: str
    extended: bool = False


@dataclass
class DescribeMethod(Statement):
    method: str  # "google.ml.jobs.create"
    extended: bool = False


@dataclass
class ShowInsert(Statement):
    resource: str
    required_only: bool = False  # the /*+ REQUIRED */ hint


@dataclass
class RegistryList(Statement):
    provider: str | None = None


@dataclass
class RegistryPull(Statement):
    provider: str
    version: str | None = None


@dataclass
class Exec(Statement):
    method: str  # "google.ml.jobs.cancel"
    params: dict[str, Any] = field(default_factory=dict)  # @name = value
    body: str | None = None  # the @@json text


@dataclass
class Query(Statement):
    """SELECT (with CTEs, UNION, ...): planned, fetched, then run by DuckDB."""

    expression: exp.Expression


# `FROM (EXEC ...)`: the parser reads the EXEC into `(SELECT * FROM <table>)` and keeps the Exec in that
# table's meta under this key; the session runs it and loads its rows as that table before the query.
EXEC_META = "skyql_exec"


def exec_tables(expression: exp.Expression) -> list[exp.Table]:
    """The tables of a statement that stand for an EXEC subquery, in text order."""
    return [t for t in expression.find_all(exp.Table) if EXEC_META in t.meta]


@dataclass
class Mutation(Statement):
    """INSERT, UPDATE, DELETE or REPLACE on a provider resource."""

    kind: str  # INSERT, UPDATE, DELETE, REPLACE
    expression: exp.Expression
