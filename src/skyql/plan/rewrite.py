"""Rewrite the statement to read the fetched DuckDB tables instead of provider names."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

from skyql.plan.refs import Ref
from skyql.sql import sqlite


def rewrite_tables(
    expression: exp.Expression, keys: dict[Ref, str], full_names: list[tuple[exp.Column, Ref]]
) -> str:
    """`google.ml.jobs AS j` -> `google_ml_jobs_1 AS j` (in place); the DuckDB SQL text of the result.

    A table without an alias is aliased by its last name part, the name its columns are qualified
    with (`jobs.state`); conditions stay as they are, since the loaded tables carry the parameter
    columns filled from the requests.
    """
    for column, ref in full_names:
        # google.ml.jobs.state -> jobs.state: the three-part name no longer exists.
        column.set("catalog", None)
        column.set("db", None)
        column.set("table", _name(ref.source))
    for ref, key in keys.items():
        table = ref.table
        if not table.alias:
            table.set("alias", exp.TableAlias(this=_name(ref.source)))
        table.set("this", exp.to_identifier(key))
        table.set("db", None)
        table.set("catalog", None)
    # StackQL users write SQLite's json1 functions; give them SQLite's semantics in DuckDB.
    return sqlite.rewrite(expression).sql(dialect="duckdb")


def _name(name: str) -> exp.Identifier:
    # Resource names may be SQL words (google.apigee.create): quoted, they are plain names to DuckDB.
    return exp.to_identifier(name, quoted=name.upper() in DuckDB.Tokenizer.KEYWORDS)
