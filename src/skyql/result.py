"""What a statement returns: columns with DuckDB type names, and rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class JsonText(str):
    """The JSON text of an object or array where SQLite returns text: a str, shown as JSON by `--output json`."""

    __slots__ = ()


@dataclass
class Result:
    """Rows of one statement. `types` are DuckDB type names (VARCHAR, BIGINT, JSON, ...)."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    # What a mutation or EXEC did ("1 row inserted; operation projects/p/.../operations/7"), for logs.
    message: str | None = None
    # Non-fatal notes the user should see (e.g. partitions left out under --allow-partial).
    warnings: list[str] = field(default_factory=list)
    # Rows a mutation changed (DB-API rowcount) when it returns no rows; None: len(rows).
    affected: int | None = None

    @classmethod
    def of_strings(cls, columns: list[str], rows: list[tuple[Any, ...]]) -> Result:
        return cls(columns=columns, types=["VARCHAR"] * len(columns), rows=rows)

    @property
    def rowcount(self) -> int:
        return len(self.rows) if self.affected is None else self.affected
