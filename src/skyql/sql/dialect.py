"""The skyql SQL dialect: DuckDB SQL plus the StackQL quirks, all in this one place.

Registered with sqlglot under the name "skyql", so ``sqlglot.parse_one(sql, read="skyql")`` works too.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import TokenType


class Skyql(DuckDB):
    """DuckDB with backtick-quoted names and StackQL's UPDATE-shaped REPLACE."""

    class Tokenizer(DuckDB.Tokenizer):
        # StackQL users quote names with backticks as well as double quotes.
        IDENTIFIERS = ['"', "`"]

    class Parser(DuckDB.Parser):
        STATEMENT_PARSERS = {
            **DuckDB.Parser.STATEMENT_PARSERS,
            TokenType.REPLACE: lambda self: self._parse_stackql_replace(),
        }

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
