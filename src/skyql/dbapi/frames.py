"""Rows with DuckDB type names -> a pyarrow Table or a pandas DataFrame, column by column.

pyarrow and pandas are optional extras (`skyql[arrow]`, `skyql[pandas]`): imported only when asked for.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from skyql.dbapi.exceptions import InterfaceError
from skyql.dbapi.types import STRING, base_type


def require(module: str, extra: str) -> ModuleType:
    """Import an optional package, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise InterfaceError(
            f"this needs the optional package {module}: pip install 'skyql[{extra}]'"
        ) from err


def arrow_type(pa: ModuleType, type_name: str) -> Any:
    """The pyarrow type for a DuckDB type name; None lets pyarrow infer it (nested and rare types)."""
    base = base_type(type_name)
    if base == "DECIMAL":
        m = re.search(r"\((\d+)\s*,\s*(\d+)\)", type_name)
        return pa.decimal128(int(m.group(1)), int(m.group(2))) if m else pa.decimal128(18, 3)
    if base in ("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"):
        return pa.timestamp("us", tz="UTC")
    if base in ("LIST", "STRUCT", "MAP", "UNION"):
        return None
    if base in ("JSON", "VARIANT") or type_name == STRING:
        return pa.string()
    factory = _ARROW_TYPES.get(base)
    return factory(pa) if factory else None


_ARROW_TYPES: dict[str, Any] = {
    "BOOLEAN": lambda pa: pa.bool_(),
    "TINYINT": lambda pa: pa.int8(),
    "SMALLINT": lambda pa: pa.int16(),
    "INTEGER": lambda pa: pa.int32(),
    "BIGINT": lambda pa: pa.int64(),
    "UTINYINT": lambda pa: pa.uint8(),
    "USMALLINT": lambda pa: pa.uint16(),
    "UINTEGER": lambda pa: pa.uint32(),
    "UBIGINT": lambda pa: pa.uint64(),
    "FLOAT": lambda pa: pa.float32(),
    "REAL": lambda pa: pa.float32(),
    "DOUBLE": lambda pa: pa.float64(),
    "DATE": lambda pa: pa.date32(),
    "TIME": lambda pa: pa.time64("us"),
    "TIMESTAMP": lambda pa: pa.timestamp("us"),
    "TIMESTAMP_S": lambda pa: pa.timestamp("s"),
    "TIMESTAMP_MS": lambda pa: pa.timestamp("ms"),
    "TIMESTAMP_NS": lambda pa: pa.timestamp("ns"),
    "BLOB": lambda pa: pa.binary(),
}


def to_arrow(columns: Sequence[str], types: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> Any:
    """A pyarrow Table of `rows`; JSON columns are strings (JSON text)."""
    pa = require("pyarrow", "arrow")
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    arrays = []
    for type_name, column in zip(types, values, strict=True):
        if base_type(type_name) in ("JSON", "VARIANT"):
            # The engine may hand JSON back parsed (dicts, lists) or as text, and a VARIANT (SQLite's JSON values
            # mixing numbers and text) per row; arrow users get one shape: text.
            column = [v if v is None or isinstance(v, str) else json.dumps(v) for v in column]
        arrays.append(_array(pa, column, arrow_type(pa, type_name)))
    return pa.Table.from_arrays(arrays, names=list(columns))


def _array(pa: ModuleType, column: Sequence[Any], type_: Any) -> Any:
    if type_ is None:
        return pa.array(column)
    try:
        return pa.array(column, type=type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Values that do not fit the declared type (a string in a TIMESTAMP column): keep them as they are.
        return pa.array(column)


def to_pandas(columns: Sequence[str], types: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> Any:
    """A pandas DataFrame of `rows`, built through arrow (typed columns, timestamps in UTC)."""
    require("pandas", "pandas")
    return to_arrow(columns, types, rows).to_pandas()
