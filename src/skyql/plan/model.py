"""The Plan: plain, printable data between planning and fetching. Tests of the planner assert on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skyql.registry.model import Method, Resource


@dataclass(frozen=True)
class JoinParam:
    """A required parameter taken from another fetch's column: `p.jobsId = j.jobId`."""

    param: str  # the parameter of this fetch (jobsId)
    source: str  # the key of the fetch that provides it
    column: str  # the column of that fetch (jobId)
    # A DuckDB condition on the source's table: only values of rows meeting it can reach the result.
    where: str | None = None


@dataclass
class Fetch:
    """Read one resource through one SELECT method, once per partition (one parameter combination)."""

    key: str  # the DuckDB table this fetch fills, e.g. "google_ml_jobs_1"
    resource: Resource
    method: Method
    partitions: list[dict[str, Any]]  # literal parameter values, one dict per request stream
    columns: list[str] | None = None  # the row columns the query uses; None = all (no `fields` pushdown)
    params_read: list[str] | None = None  # the parameter columns the query reads; None = all
    joins: list[JoinParam] = field(default_factory=list)  # parameters filled from other fetches first
    limit: int | None = None  # stop fetching after this many rows (a LIMIT on a plain scan)

    @property
    def depends_on(self) -> list[str]:
        return sorted({j.source for j in self.joins})

    def reads_param(self, name: str) -> bool:
        """Whether the query reads parameter column `name` (a list must then fill it for each row)."""
        return self.params_read is None or name in self.params_read

    @property
    def param_columns(self) -> list[str]:
        """The parameter columns the loaded table needs, besides the row columns: the local SQL
        filters on them (`WHERE projectsId = 'p'`), so each row carries its request's values."""
        names: dict[str, None] = {}
        for partition in self.partitions:
            names.update(dict.fromkeys(partition))
        names.update(dict.fromkeys(j.param for j in self.joins))
        return list(names)

    def describe(self) -> str:
        """One line for --dryrun: what is read, how many request streams, which columns and limit."""
        values: dict[str, list[str]] = {}
        for partition in self.partitions:
            for name, value in partition.items():
                shown = _sql_value(value)
                if shown not in values.setdefault(name, []):
                    values[name].append(shown)
        given = ", ".join(
            f"{name} = {shown[0]}" if len(shown) == 1 else f"{name} IN ({', '.join(shown)})"
            for name, shown in values.items()
        )
        count = len(self.partitions)
        line = f"{self.key}: {self.resource.id}.{self.method.name}, {count} partition{'s' * (count != 1)}"
        line += f" ({given})" if given else ""
        for join in self.joins:
            line += f"; {join.param} = each distinct {join.source}.{join.column}"
            line += f" where {join.where}" if join.where else ""
        line += (
            f"; columns {', '.join(self.columns) or 'none'}" if self.columns is not None else "; all columns"
        )
        if self.limit is not None:
            line += f"; limit {self.limit}"
        return line


@dataclass
class Plan:
    fetches: list[Fetch]  # in dependency order: a fetch comes after those whose columns it reads
    local_sql: str  # the statement rewritten to read the fetches' DuckDB tables

    def describe(self) -> list[str]:
        """Human-readable lines for --dryrun: one per fetch, then the SQL DuckDB runs."""
        return [fetch.describe() for fetch in self.fetches] + [f"local: {self.local_sql}"]


def _sql_value(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
