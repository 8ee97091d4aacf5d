"""skyql's SQL front end: text -> Statement (sqlglot for standard SQL, a token parser for StackQL's extras).

Importing this package loads sqlglot only: no DuckDB, no HTTP client, no template engine.
"""

from skyql.sql.parser import parse, parse_one
from skyql.sql.script import split_script
from skyql.sql.template import render_template

__all__ = ["parse", "parse_one", "render_template", "split_script"]
