"""SQLite's meaning for the local SQL, on DuckDB: one sqlglot rewrite, plus the macros it calls (`MACROS`).

StackQL runs its local SQL in SQLite, so StackQL users write SQLite. The parser (skyql.sql.dialect) reads
SQLite's spellings (scalar max(a, b), strftime(format, time), NULLs first); this rewrite gives the rest
SQLite's semantics, then skyql.sql.sqlite_json does json1:

- date, time, datetime, julianday, unixepoch, strftime and printf/format are answered by SQLite itself
  (skyql.engine.sqlite_functions), with every format and modifier. datetime() and date() compared with a
  timestamp or date compare as times, so `createTime > datetime('now', '-7 days')` works (Google timestamps are
  typed columns in skyql, text in StackQL); compared with anything else, as text.
- total(), replace(), LIKE folding ASCII case, lower/upper of ASCII letters only, CAST to INTEGER / REAL reading the
  longest numeric prefix of text (and truncating reals), round() returning a real, typeof()'s words, numbers
  with a point being reals (not DuckDB's DECIMAL), StackQL's own json_equal, split_part and regexp_*, and bare columns beside GROUP BY
  or an aggregate (SQLite takes them from one row of the group; from the row of the max/min when the query
  has exactly one max() or min()).
- `/` of two integers divides as integers and x/0 is NULL: engine settings (`SETTINGS`), not a rewrite.
"""

from __future__ import annotations

import re

from sqlglot import exp

from skyql.sql import sqlite_json

_UPPER, _LOWER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
# DuckDB settings that give SQLite's arithmetic: 5/2 = 2, x/0 = NULL; and text compared with a number is read as a
# number (SQLite's json_extract answers numbers that skyql carries as text out of a subquery).
SETTINGS: tuple[str, ...] = ("SET integer_division = true", "SET old_implicit_casting = true")
# DuckDB 2 raises on x/0 unless told otherwise; DuckDB 1.x answers NULL and has no such setting.
SETTINGS_IF_KNOWN: tuple[str, ...] = ("SET error_on_division_by_zero = false",)
_INT_TYPES = (
    "('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER',"
    " 'UBIGINT', 'UHUGEINT')"
)
MACROS: tuple[str, ...] = (
    # ASCII-only case mapping: DuckDB's lower() where the text is ASCII (fast), translate() where it is not.
    *(
        f"CREATE OR REPLACE MACRO sqlite_{fn}(x) AS CASE WHEN NOT regexp_matches(x, '[^\\x00-\\x7F]')"
        f" THEN {fn}(x) ELSE translate(x, '{a}', '{b}') END"
        for fn, a, b in (("lower", _UPPER, _LOWER), ("upper", _LOWER, _UPPER))
    ),
    # SQLite's type words for a DuckDB value: timestamps and JSON are text in StackQL's SQLite.
    "CREATE OR REPLACE MACRO sqlite_typeof(x) AS CASE WHEN x IS NULL THEN 'null'"
    f" WHEN typeof(x) IN {_INT_TYPES} OR typeof(x) = 'BOOLEAN' THEN 'integer'"
    " WHEN typeof(x) IN ('DOUBLE', 'FLOAT') OR typeof(x) LIKE 'DECIMAL%' THEN 'real'"
    " WHEN typeof(x) = 'BLOB' THEN 'blob' ELSE 'text' END",
    "CREATE OR REPLACE MACRO sqlite_json_typeof(word) AS CASE WHEN word IS NULL THEN 'null'"
    " WHEN word IN ('true', 'false') THEN 'integer' WHEN word IN ('object', 'array') THEN 'text' ELSE word END",
    # replace(x, '', z) is x in SQLite, whatever z.
    "CREATE OR REPLACE MACRO sqlite_replace(x, y, z) AS CASE WHEN y = '' THEN x ELSE replace(x, y, z) END",
    # StackQL's split_part (stackql/sqlite-ext-functions): NULL for a part that is not there or an empty separator.
    "CREATE OR REPLACE MACRO stackql_split_part(s, sep, n) AS CASE WHEN sep = '' OR n = 0"
    " OR abs(n) > len(string_split(s, sep)) THEN NULL ELSE split_part(s, sep, n) END",
    # CAST(x AS INTEGER): text gives its longest integer prefix (else 0), reals are truncated.
    "CREATE OR REPLACE MACRO sqlite_cast_int(x) AS CASE WHEN x IS NULL THEN NULL"
    f" WHEN typeof(x) IN {_INT_TYPES} THEN TRY_CAST(x::VARCHAR AS BIGINT)"
    " WHEN typeof(x) = 'BOOLEAN' THEN CASE WHEN x::VARCHAR = 'true' THEN 1 ELSE 0 END"
    " WHEN typeof(x) IN ('DOUBLE', 'FLOAT') OR typeof(x) LIKE 'DECIMAL%'"
    " THEN TRY_CAST(trunc(TRY_CAST(x::VARCHAR AS DOUBLE)) AS BIGINT)"
    " ELSE coalesce(TRY_CAST(regexp_extract(x::VARCHAR, '^\\s*([+-]?[0-9]+)', 1) AS BIGINT), 0) END",
    # CAST(x AS REAL): text gives its longest real prefix (else 0.0).
    "CREATE OR REPLACE MACRO sqlite_cast_real(x) AS CASE WHEN x IS NULL THEN NULL"
    " WHEN typeof(x) = 'BOOLEAN' THEN CASE WHEN x::VARCHAR = 'true' THEN 1.0::DOUBLE ELSE 0.0::DOUBLE END"
    f" WHEN typeof(x) IN {_INT_TYPES} OR typeof(x) IN ('DOUBLE', 'FLOAT') OR typeof(x) LIKE 'DECIMAL%'"
    " THEN TRY_CAST(x::VARCHAR AS DOUBLE)"
    " ELSE coalesce(TRY_CAST(regexp_extract(x::VARCHAR,"
    " '^\\s*([+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?)', 1) AS DOUBLE), 0.0::DOUBLE) END",
)
_TEXT_FUNCTIONS = {"date", "time", "datetime", "strftime", "printf"}
_TIME_FUNCTIONS = {"date", "datetime"}
_DUCKDB_TIME_TYPES = (
    "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMP",
    "DATE",
    "TIMESTAMP_NS",
    "TIMESTAMP_MS",
    "TIMESTAMP_S",
)
_INT_CASTS = (
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.TINYINT,
)
_REAL_CASTS = (exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE)
# strftime formats whose text is an integer (seconds, year, day of year, ...).
_INTEGER_FORMAT = re.compile(r"(%[deHIjklmMsSuwWYGgV])+\Z")
_NUMERIC_PREFIX = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ)


def rewrite(expression: exp.Expression) -> exp.Expression:
    """A copy of `expression` with SQLite's semantics in DuckDB (see the module docstring)."""
    tree = expression.copy()
    _name_changed_projections(tree)
    for select in list(tree.find_all(exp.Select)):
        _bare_columns(select)
    return sqlite_json.rewrite(sqlite_json.replace_bottom_up(tree, _function))


def rewrite_sql(sql: str, read: str = "skyql") -> str:
    """Rewrite one statement (parsed as `read`, skyql's dialect by default) to DuckDB SQL, for tests and tools."""
    import sqlglot

    from skyql.sql.dialect import DIALECT

    return rewrite(sqlglot.parse_one(sql, read=DIALECT if read == "skyql" else read)).sql("duckdb")


# -- functions -------------------------------------------------------------------------------------


def _anon(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _cast(node: exp.Expression, to: str) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build(to))


def _ascii_case(node: exp.Expression, upper: bool) -> exp.Expression:
    """SQLite's lower()/upper() change ASCII letters only."""
    if isinstance(node, exp.Literal) and node.is_string:
        table = str.maketrans(_LOWER, _UPPER) if upper else str.maketrans(_UPPER, _LOWER)
        return exp.Literal.string(node.this.translate(table))
    return _anon("sqlite_upper" if upper else "sqlite_lower", _cast(node, "VARCHAR"))


def _function(node: exp.Expression) -> exp.Expression | None:  # noqa: PLR0911 - one case per SQLite function
    """The DuckDB form of `node` when SQLite means something else by it, else None."""
    name = node.name.lower() if isinstance(node, exp.Anonymous) else ""
    args = list(node.expressions) if isinstance(node, exp.Anonymous) else []
    if name in _TEXT_FUNCTIONS or name in ("julianday", "unixepoch") or (name == "format" and _printf(args)):
        return _sqlite_call(node, name, args)
    if isinstance(node, exp.Coalesce) and _mixes_text_literal(node):
        # coalesce(website, 'none'): SQLite's values are text or numbers, DuckDB's a JSON column too, which would
        # read 'none' as JSON. With a text fallback the answer is text, as SQLite shows it.
        first, *rest = [
            a if isinstance(a, exp.Literal) else _cast(a, "VARCHAR") for a in (node.this, *node.expressions)
        ]
        return exp.Coalesce(this=first, expressions=rest)
    if name == "total" and len(args) == 1:
        return exp.Coalesce(
            this=_cast(exp.Sum(this=args[0]), "DOUBLE"), expressions=[_cast(exp.Literal.number(0), "DOUBLE")]
        )
    if name == "json_equal" and len(args) == 2:
        return exp.Cast(
            this=_anon("sqlite_json_equal", *(_cast(a, "VARCHAR") for a in args)),
            to=exp.DataType.build("BIGINT"),
        )
    if isinstance(node, exp.Like) and not isinstance(node.parent, exp.Escape):
        return _folded_like(node)
    if isinstance(node, exp.Escape) and isinstance(node.this, exp.Like):
        escape = node.copy()
        escape.set("this", _folded_like(node.this))
        return escape
    if isinstance(node, exp.Lower | exp.Upper):
        return _ascii_case(node.this, isinstance(node, exp.Upper))
    if isinstance(node, _COMPARISONS):
        return _time_comparison(node)
    if isinstance(node, exp.Between) and (_time_call(node.args["low"]) or _time_call(node.args["high"])):
        # x BETWEEN a AND b is x >= a AND x <= b: each comparison then reads times as times.
        x = node.this
        low = exp.GTE(this=x.copy(), expression=node.args["low"])
        high = exp.LTE(this=x, expression=node.args["high"])
        return exp.Paren(
            this=exp.And(this=_time_comparison(low) or low, expression=_time_comparison(high) or high)
        )
    if isinstance(node, exp.Replace) and node.args.get("replacement") is not None:
        return _anon("sqlite_replace", _text(node.this), _text(node.expression), node.args["replacement"])
    if isinstance(node, exp.Substring | exp.Length | exp.Trim | exp.StrPosition):
        # SQLite's text functions read a number as its text: length(12345) is 5.
        keys = [k for k in ("this", "substr", "expression") if isinstance(node.args.get(k), exp.Expression)]
        if all(_is_text(node.args[k]) for k in keys):
            return None
        texted = node.copy()
        for key in keys:
            texted.set(key, _text(node.args[key].copy()))
        return texted
    if isinstance(node, exp.SplitPart) and node.args.get("part_index") is not None:
        return _anon("stackql_split_part", node.this, node.args["delimiter"], node.args["part_index"])
    if isinstance(node, exp.RegexpLike) and not node.args.get("flag"):  # StackQL's regexp_like: 1 or 0
        return _cast(exp.RegexpLike(this=node.this, expression=node.expression), "BIGINT")
    if isinstance(node, exp.RegexpSubstr) and not any(node.args.get(k) for k in ("position", "occurrence")):
        # StackQL's regexp_substr: the first match, NULL when there is none
        return exp.Case(
            ifs=[
                exp.If(
                    this=exp.RegexpLike(this=node.this.copy(), expression=node.expression.copy()),
                    true=exp.RegexpExtract(this=node.this, expression=node.expression),
                )
            ]
        )
    if (
        isinstance(node, exp.RegexpReplace)
        and node.args.get("modifiers") is None
        and node.args.get("position") is None
    ):
        # StackQL's regexp_replace replaces every match
        replaced = node.copy()
        replaced.set("modifiers", exp.Literal.string("g"))
        return replaced
    if isinstance(node, exp.Typeof):
        extract = sqlite_json._extract_args(node.this)
        if extract is not None and len(extract[1]) == 1:
            # A JSON value's SQLite type: true/false are integers, objects and arrays text.
            word = _anon("sqlite_json_type", extract[0], extract[1][0])
            return _anon("sqlite_json_typeof", word)
        return _anon("sqlite_typeof", node.this)
    if isinstance(node, exp.Round):
        places = node.args.get("decimals")
        rounded = exp.Round(this=_cast(node.this, "DOUBLE"), decimals=places)
        return _cast(rounded, "DOUBLE")
    if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast):
        if node.to.is_type(*_INT_CASTS):
            return _anon("sqlite_cast_int", node.this)
        if node.to.is_type(*_REAL_CASTS):
            return _anon("sqlite_cast_real", node.this)
    if isinstance(node, exp.Literal) and node.is_string and _in_arithmetic(node):
        return _text_as_number(node.this)  # SQLite: '5' + 1 is 6, 'abc' + 1 is 1
    if (
        isinstance(node, exp.Literal)
        and not node.is_string
        and not node.this.lstrip("-").isdigit()
        and not isinstance(node.parent, exp.Cast | exp.DataType | exp.Interval | exp.DataTypeParam)
    ):
        return _cast(node.copy(), "DOUBLE")  # 1.5 is a real in SQLite, a DECIMAL in DuckDB
    return None


def _mixes_text_literal(node: exp.Coalesce) -> bool:
    args = [node.this, *node.expressions]
    return any(isinstance(a, exp.Literal) and a.is_string for a in args) and any(
        not isinstance(a, exp.Literal) and not (isinstance(a, exp.Cast) and a.to.is_type("VARCHAR"))
        for a in args
    )


def _is_text(node: exp.Expression) -> bool:
    return (isinstance(node, exp.Literal) and node.is_string) or (
        isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.TEXT_TYPES)
    )


def _text(node: exp.Expression) -> exp.Expression:
    return node if _is_text(node) else _cast(node, "VARCHAR")


def _folded_like(like: exp.Like) -> exp.Like:
    """SQLite's LIKE ignores the case of ASCII letters (and reads numbers as their text)."""
    folded = like.copy()  # keeps NOT (negate) and the other arguments
    folded.set("this", _ascii_case(like.this.copy(), False))
    folded.set("expression", _ascii_case(like.expression.copy(), False))
    return folded


def _printf(args: list[exp.Expression]) -> bool:
    """format('%d items', n) is SQLite's printf; format('{} items', n) stays DuckDB's."""
    first = args[0] if args else None
    return not (isinstance(first, exp.Literal) and first.is_string and "%" not in first.this)


def _sqlite_call(node: exp.Expression, name: str, args: list[exp.Expression]) -> exp.Expression:
    """name(args) computed by SQLite: sqlite_text / sqlite_real / sqlite_int('name', [args as text])."""
    if name == "format":
        name = "printf"
    udf = "sqlite_real" if name == "julianday" else "sqlite_int" if name == "unixepoch" else "sqlite_text"
    values = exp.Array(expressions=[_cast(a, "VARCHAR") for a in args])
    call: exp.Expression = _anon(udf, exp.Literal.string(name), _cast(values, "VARCHAR[]"))
    if udf == "sqlite_text" and _in_arithmetic(node):
        # SQLite reads text as a number in arithmetic: strftime('%s', 'now') - strftime('%s', createTime).
        fmt = args[0] if name == "strftime" and args else None
        integral = isinstance(fmt, exp.Literal) and fmt.is_string and _INTEGER_FORMAT.match(fmt.this)
        call = _anon("sqlite_cast_int" if integral else "sqlite_cast_real", call)
    return call


def _text_as_number(text: str) -> exp.Expression:
    """The number SQLite reads from text in arithmetic: its longest numeric prefix, else 0."""
    match = _NUMERIC_PREFIX.match(text)
    if match is None:
        return exp.Literal.number(0)
    number = match.group(1)
    if re.fullmatch(r"[+-]?\d+", number) and abs(int(number)) < 2**63:
        return exp.Literal.number(int(number))
    return _cast(exp.Literal.number(float(number)), "DOUBLE")


def _in_arithmetic(node: exp.Expression) -> bool:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return isinstance(parent, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.IntDiv | exp.Mod | exp.Neg)


def _time_call(node: exp.Expression) -> bool:
    """A datetime() or date() call, as _sqlite_call wrote it."""
    while isinstance(node, exp.Paren):
        node = node.this
    return (
        isinstance(node, exp.Anonymous)
        and node.name.lower() == "sqlite_text"
        and node.expressions[0].name in _TIME_FUNCTIONS
    )


def _time_comparison(node: exp.Expression) -> exp.Expression | None:
    """datetime()/date() beside a timestamp compare as times; beside anything else as text, as in SQLite.

    Google's timestamps are typed columns in skyql (text in StackQL): `createTime > datetime('now', '-7 days')`
    must compare times. The partner's type is DuckDB's to know, so both readings are written out.
    """
    left, right = node.this, node.expression
    if _time_call(left) == _time_call(right):
        return None
    call, other = (left, right) if _time_call(left) else (right, left)
    if isinstance(other, exp.Literal) and other.is_string:
        return None

    def compare(a: exp.Expression, b: exp.Expression) -> exp.Expression:
        pair = (a, b) if call is left else (b, a)
        return type(node)(this=pair[0], expression=pair[1])

    as_text = _cast(other.copy(), "VARCHAR")
    is_time = exp.In(
        this=_anon("typeof", other.copy()), expressions=[exp.Literal.string(t) for t in _DUCKDB_TIME_TYPES]
    )
    return exp.Case(
        ifs=[
            exp.If(
                this=is_time,
                true=compare(
                    exp.TryCast(this=call.copy(), to=exp.DataType.build("TIMESTAMPTZ")),
                    exp.TryCast(this=as_text.copy(), to=exp.DataType.build("TIMESTAMPTZ")),
                ),
            )
        ],
        default=compare(call.copy(), as_text),
    )


# -- bare columns ----------------------------------------------------------------------------------


def _is_aggregate(node: exp.Expression) -> bool:
    if node.find_ancestor(exp.Window) is not None:
        return False
    if isinstance(node, exp.AggFunc):
        return True
    return isinstance(node, exp.Anonymous) and node.name.lower() in (
        sqlite_json._aggregate_names() | {"total", "group_concat"}
    )


def _own_nodes(root: exp.Expression):
    """The nodes of `root` at its own query level (not inside subqueries)."""
    return root.walk(prune=lambda n: n is not root and isinstance(n, exp.Query | exp.Subquery))


def _bare_columns(select: exp.Select) -> None:
    """Columns beside GROUP BY (or an aggregate) that are neither grouped nor aggregated: one row's value."""
    group = select.args.get("group")
    projections = list(select.expressions)
    parts = [*projections, select.args.get("having"), select.args.get("order")]
    aggregates = [n for part in parts if part is not None for n in _own_nodes(part) if _is_aggregate(n)]
    if group is None and not aggregates:
        return
    if group is not None and (group.args.get("all") or any(sqlite_json._expands(p) for p in projections)):
        return
    keys = {_key(select, k).sql() for k in (group.expressions if group is not None else [])}
    extremes = [a for a in aggregates if isinstance(a, exp.Max | exp.Min) and not a.expressions]
    chooser = extremes[0] if len(extremes) == 1 and len(aggregates) == 1 else None
    aliases = {p.alias.lower() for p in projections if isinstance(p, exp.Alias)}
    for part in parts:
        if part is None:
            continue
        for column in [n for n in _own_nodes(part) if isinstance(n, exp.Column)]:
            if column.is_star or _grouped(column, keys):
                continue
            in_order = part is select.args.get("order")
            if in_order and not column.table and column.name.lower() in aliases:
                continue  # ORDER BY names a projection
            wrapped = _one_rows_value(column.copy(), chooser)
            if column is part:  # a projection that is the bare column itself keeps its name
                column.replace(exp.alias_(wrapped, exp.to_identifier(column.name, quoted=True)))
            else:
                column.replace(wrapped)


def _key(select: exp.Select, key: exp.Expression) -> exp.Expression:
    """A GROUP BY key as the expression it names: `GROUP BY 1` or `GROUP BY alias` name a projection."""
    projections = select.expressions
    if isinstance(key, exp.Literal) and not key.is_string and key.this.isdigit():
        index = int(key.this) - 1
        if 0 <= index < len(projections):
            return projections[index].unalias()
    if isinstance(key, exp.Column) and not key.table:
        for p in projections:
            if isinstance(p, exp.Alias) and p.alias.lower() == key.name.lower():
                return p.this
    return key


def _grouped(column: exp.Column, keys: set[str]) -> bool:
    """Inside an aggregate or a window, or (part of) a GROUP BY key: not bare."""
    node: exp.Expression | None = column
    while node is not None and not isinstance(node, exp.Select):
        if (
            _is_aggregate(node)
            or isinstance(node, exp.Window | exp.Filter | exp.WithinGroup)
            or node.sql() in keys
        ):
            return True
        node = node.parent
    return False


def _one_rows_value(column: exp.Expression, chooser: exp.Expression | None) -> exp.Expression:
    if chooser is None:
        return exp.AnyValue(this=column)
    fn = "arg_max" if isinstance(chooser, exp.Max) else "arg_min"
    return _anon(fn, column, chooser.this.copy())


# -- names -----------------------------------------------------------------------------------------


def _name_changed_projections(tree: exp.Expression) -> None:
    """Projections this rewrite changes keep the name SQLite gives them (their text)."""
    for select in tree.find_all(exp.Select):
        changed = False
        for i, proj in enumerate(select.expressions):
            if isinstance(proj, exp.Alias | exp.Column | exp.Star):
                continue
            probe = proj.copy()  # _function builds its answer from the node's children: ask a copy
            if any(
                _function(n) is not None or isinstance(n, exp.Greatest | exp.Least)
                for n in list(probe.walk())
            ):
                shown = proj.copy()
                for div in shown.find_all(exp.Div):
                    div.set("typed", True)  # `/` is SQLite's (integer division): shown without a CAST
                select.expressions[i] = exp.alias_(
                    proj, exp.to_identifier(sqlite_json._display_name(shown), quoted=True)
                )
                changed = True
        if changed:
            select.set("expressions", list(select.expressions))
