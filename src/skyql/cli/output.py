"""Render a Result as table, json, csv or text (shared by the CLI and the shell).

`table` and `text` are for people and terminals: control characters in values (and in messages, through
`printable`) are shown escaped, never sent raw. `json` and `csv` are for programs and stay exact.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import io
import json
import uuid
from typing import Any

from skyql.errors import SkyqlError
from skyql.result import JsonText, Result
from skyql.terminal import printable_rows

FORMATS = ("table", "json", "csv", "text")

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render(
    result: Result,
    fmt: str = "table",
    *,
    headers: bool = True,
    delimiter: str = ",",
    max_width: int | None = None,
    csv_safe: bool = False,
) -> str:
    """The whole output of one result, ending with a newline (empty string for no columns).

    `csv_safe`: in csv, text cells a spreadsheet would run as a formula get a leading `'`.
    """
    if fmt == "json":
        return _json_text(result)
    if not result.columns:
        return ""
    cells = [[_cell(v, t) for v, t in zip(row, result.types, strict=False)] for row in result.rows]
    if fmt == "csv":
        header = list(result.columns)
        if csv_safe:
            header = [_defuse(c) for c in header]
            cells = [
                [_defuse(c) if _is_text(v) else c for c, v in zip(r, row, strict=False)]
                for r, row in zip(cells, result.rows, strict=False)
            ]
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
        # The csv module quotes a field with \n but not one with a lone \r, which readers take for a line
        # break: such a row is written with every field quoted, so its values stay exact.
        quoted = csv.writer(buf, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL)
        for row in ([header] if headers else []) + cells:
            (quoted if any("\r" in cell for cell in row) else writer).writerow(row)
        return buf.getvalue()
    if fmt == "text":
        # Tab separates fields and newline rows: a value's own tab or newline is escaped, never a new field.
        shown = printable_rows(([list(result.columns)] if headers else []) + cells)
        lines = ["\t".join(r) for r in shown]
        return "".join(line + "\n" for line in lines)
    return _table(result.columns, cells, max_width)


def _is_text(value: Any) -> bool:
    """A value whose cell is text a spreadsheet would parse: not a number (-5 stays -5)."""
    return not isinstance(value, bool | int | float | decimal.Decimal) and value is not None


def _defuse(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _json_text(result: Result) -> str:
    """One JSON array of row objects; a value nested too deep for Python's parser is copied as it came."""
    rows = json_rows(result)
    verbatim: dict[str, str] = {}
    for row in rows:
        for name, value in row.items():
            if isinstance(value, _Verbatim):
                marker = f"\ue000{uuid.uuid4().hex}\ue001"
                verbatim[json.dumps(marker, ensure_ascii=False)] = str(value)
                row[name] = marker
    try:
        text = json.dumps(rows, ensure_ascii=False, default=_json_default)
    except RecursionError:
        raise SkyqlError(
            "a value is nested too deeply to print as JSON; select a part of it (e.g. with json_extract)"
            " or use -o csv"
        ) from None
    for marker, value in verbatim.items():
        text = text.replace(marker, value, 1)
    return text + "\n"


def json_rows(result: Result) -> list[dict[str, Any]]:
    """Rows as objects; JSON columns and JsonText values become JSON values, not strings."""
    json_cols = [t.upper() == "JSON" for t in result.types]
    out = []
    for row in result.rows:
        obj = {}
        for name, value, is_json in zip(result.columns, row, json_cols, strict=False):
            if isinstance(value, JsonText) or (is_json and isinstance(value, str)):
                with contextlib.suppress(ValueError):
                    value = _parse_json(value)
            obj[name] = value
        out.append(obj)
    return out


class _Verbatim(str):
    """JSON text too deep for Python's parser: written into the output as it is (it is already JSON)."""


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        return _Verbatim(text)


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
        # Control characters are escaped already; a `|` in a value must not pass for a column border.
        text = text.replace("|", "\\|")
        if max_width and len(text) > max_width:
            return text[: max_width - 3] + "..."
        return text

    header, *rows = printable_rows([list(columns), *cells])
    header = [clip(c) for c in header]
    body = [[clip(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"

    def line(values: list[str]) -> str:
        return "|" + "|".join(f" {v:<{w}} " for v, w in zip(values, widths, strict=False)) + "|"

    out = [rule, line(header), rule] + [line(r) for r in body] + [rule]
    return "\n".join(out) + "\n"
