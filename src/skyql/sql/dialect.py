"""The skyql SQL dialect: DuckDB SQL plus the StackQL quirks, all in this one place.

Registered with sqlglot under the name "skyql", so ``sqlglot.parse_one(sql, read="skyql")`` works too.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.parsers.sqlite import SQLiteParser
from sqlglot.tokens import TokenType


def _sqlite_call(name: str) -> Callable[[list[exp.Expression]], exp.Expression]:
    return lambda args: exp.Anonymous(this=name.lower(), expressions=args)


def _strftime(args: list[exp.Expression]) -> exp.Expression:
    """SQLite's strftime(format, time, modifier...) when the format comes first; else DuckDB's (time, format)."""
    first = args[0] if args else None
    if len(args) != 2 or (isinstance(first, exp.Literal) and first.is_string):
        return exp.Anonymous(this="strftime", expressions=args)
    return exp.TimeToStr(this=args[0], format=args[1])


def _min_max(
    aggregate: type[exp.Expression], scalar: type[exp.Expression], args: list[exp.Expression]
) -> exp.Expression:
    """SQLite: max(x) aggregates, max(a, b, ...) is the scalar largest, NULL when any argument is NULL."""
    if len(args) > 1:
        return scalar(this=args[0], expressions=args[1:], ignore_nulls=False)
    return aggregate(this=args[0] if args else None)


class Skyql(DuckDB):
    """DuckDB with backtick-quoted names, StackQL's UPDATE-shaped REPLACE, and SQLite's meaning where StackQL
    users write SQLite: NULLs sort first, max(a, b) / min(a, b) are scalar, SQLite's date functions."""

    # SQLite's order: NULL is the smallest value (first ascending, last descending).
    NULL_ORDERING = "nulls_are_small"

    class Tokenizer(DuckDB.Tokenizer):
        # StackQL users quote names with backticks as well as double quotes.
        IDENTIFIERS = ['"', "`"]

    class Parser(DuckDB.Parser):
        FUNCTIONS = {
            **DuckDB.Parser.FUNCTIONS,
            # SQLite's spellings; skyql.sql.sqlite gives them SQLite's meaning.
            **{
                name: _sqlite_call(name)
                for name in (
                    "DATE",
                    "TIME",
                    "DATETIME",
                    "JULIANDAY",
                    "UNIXEPOCH",
                    "PRINTF",
                    "FORMAT",
                    "TOTAL",
                )
            },
            "STRFTIME": _strftime,
        }
        # DuckDB's max(x, n) is a top-n aggregate; StackQL users mean SQLite's scalar max(a, b).
        FUNCTION_PARSERS = {
            k: v for k, v in DuckDB.Parser.FUNCTION_PARSERS.items() if k not in ("MAX", "MIN")
        }
        FUNCTIONS["MAX"] = lambda args: _min_max(exp.Max, exp.Greatest, args)
        FUNCTIONS["MIN"] = lambda args: _min_max(exp.Min, exp.Least, args)

        STATEMENT_PARSERS = {
            **DuckDB.Parser.STATEMENT_PARSERS,
            TokenType.REPLACE: lambda self: self._parse_stackql_replace(),
        }

        # SQLite's `a IS b` / `a IS NOT b` compare any two values, NULL-safely.
        IS_PREDICATE_PRECEDENCE = SQLiteParser.IS_PREDICATE_PRECEDENCE
        _parse_is_rhs = SQLiteParser._parse_is_rhs

        def _parse_is(self, this: exp.Expr | None) -> exp.Expr | None:
            this = DuckDB.Parser._parse_is(self, this)
            node, negate = (
                (this.this, True)
                if isinstance(this, exp.Not) and isinstance(this.this, exp.Is)
                else (this, False)
            )
            if isinstance(node, exp.Is):
                rhs = node.expression.unnest()
                if isinstance(rhs, exp.Null | exp.Boolean):
                    node.set("expression", rhs)
                else:
                    cls = exp.NullSafeNEQ if negate else exp.NullSafeEQ
                    return cls(this=node.this, expression=node.expression)
            return this

        def _parse_stackql_replace(self) -> exp.Update:
            """StackQL's REPLACE is an UPDATE with another verb (it maps to PUT, e.g. setIamPolicy)."""
            if self._curr is not None and self._curr.token_type == TokenType.INTO:
                self.raise_error(
                    "REPLACE takes the UPDATE shape: REPLACE google.ml.jobs_iam_policies "
                    "SET data__policy = '...' WHERE projectsId = 'p' AND jobsId = 'j'"
                )
            return self._parse_update()

        def _parse_table_part(self, schema: bool = False) -> exp.Expr | None:
            part = super()._parse_table_part(schema=schema)
            after_dot = self._prev is not None and self._prev.token_type == TokenType.DOT
            if part is None and after_dot and self._curr is not None and _BARE_WORD.match(self._curr.text):
                # Provider names use words sqlglot reserves: google.sheets.values, google.apigee.create.
                return self._parse_id_var(any_token=True)
            return part


_BARE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

DIALECT = Skyql()
