"""Render a Result as table, json, csv or text (shared by the CLI and the shell)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import io
import json
import uuid
from typing import Any

from skyql.result import JsonText, Result

FORMATS = ("table", "json", "csv", "text")


def render(result: Result, fmt: str = "table", *, headers: bool = True, delimiter: str = ",",
           max_width: int | None = None) -> str:
    """The whole output of one result, ending with a newline (empty string for no columns)."""
    if fmt == "json":
        return json.dumps(json_rows(result), ensure_ascii=False, default=_json_default) + "\n"
    if not result.columns:
        return ""
    cells = [[_cell(v, t) for v, t in zip(row, result.types, strict=False)] for row in result.rows]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
        if headers:
            writer.writerow(result.columns)
        writer.writerows(cells)
        return buf.getvalue()
    if fmt == "text":
        lines = (["\t".join(result.columns)] if headers else []) + ["\t".join(r) for r in cells]
        return "".join(line + "\n" for line in lines)
    return _table(result.columns, cells, max_width)


def json_rows(result: Result) -> list[dict[str, Any]]:
    """Rows as objects; JSON columns and JsonText values become JSON values, not strings."""
    json_cols = [t.upper() == "JSON" for t in result.types]
    out = []
    for row in result.rows:
        obj = {}
        for name, value, is_json in zip(result.columns, row, json_cols, strict=False):
            if isinstance(value, JsonText) or (is_json and isinstance(value, str)):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            obj[name] = value
        out.append(obj)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict | list | tuple):
        return value
    return str(value)


def _cell(value: Any, type_: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


def _table(columns: list[str], cells: list[list[str]], max_width: int | None) -> str:
    """StackQL's table layout: |---| rules around a header and the rows."""
    def clip(text: str) -> str:
        text = text.replace("\n", "\\n")
        if max_width and len(text) > max_width:
            return text[: max_width - 3] + "..."
        return text

    header = [clip(c) for c in columns]
    body = [[clip(c) for c in row] for row in cells]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"

    def line(values: list[str]) -> str:
        return "|" + "|".join(f" {v:<{w}} " for v, w in zip(values, widths, strict=False)) + "|"

    out = [rule, line(header), rule] + [line(r) for r in body] + [rule]
    return "\n".join(out) + "\n"
