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


@dataclass
class Fetch:
    """Read one resource through one SELECT method, once per partition (one parameter combination)."""

    key: str  # the DuckDB table this fetch fills, e.g. "google_ml_jobs_1"
    resource: Resource
    method: Method
    partitions: list[dict[str, Any]]  # literal parameter values, one dict per request stream
    columns: list[str] | None = None  # the row columns the query uses; None = all (no `fields` pushdown)
    joins: list[JoinParam] = field(default_factory=list)  # parameters filled from other fetches first
    limit: int | None = None  # stop fetching after this many rows (a LIMIT on a plain scan)

    @property
    def depends_on(self) -> list[str]:
        return sorted({j.source for j in self.joins})


@dataclass
class Plan:
    fetches: list[Fetch]
    local_sql: str  # the statement rewritten to read the fetches' DuckDB tables
