"""DuckDB: load raw API pages into typed tables, run the local SQL with SQLite json1 semantics."""

from skyql.engine.engine import Engine

__all__ = ["Engine"]
