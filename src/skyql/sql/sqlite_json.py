"""SQLite json1 semantics on DuckDB: a pure sqlglot rewrite plus the macros it calls (`MACROS`).

StackQL users write SQLite's JSON functions; DuckDB's functions of the same names differ (json_extract returns
JSON, json_each returns JSON values, json_type answers 'VARCHAR'). SQLite's json_extract returns a value whose
type depends on the data; a DuckDB expression has one type, so the rewrite picks it from the context:

- value (a column of the outermost SELECT list, directly or under an alias): SQLite's value, typed per row. The
  column is text as below, and a hidden column (`TYPE_COLUMN`...) appended to the select list carries each row's
  SQLite type word; the engine turns the pair into str, int, float, None or JSON text and drops the hidden
  column. GROUP BY keys are the text (a group's type is any of its rows'); DISTINCT also sees the type word,
  so 5 and "5" stay apart as in SQLite.
- text (other select lists, `= 'a'`, LIKE, GROUP BY): VARCHAR. A JSON string gives its text, a number its
  digits ('5'), true/false give '1'/'0' as in SQLite, null or a missing path NULL, an object or array its
  JSON text.
- numeric (compared with a number, arithmetic, SUM/AVG, CAST to a number): DOUBLE; true/false are 1/0, text
  that is not a number is NULL. Unlike SQLite, a numeric string such as Google's int64 "42" compares as 42.
- truth (WHERE x, AND/OR/NOT, CASE WHEN x, `= TRUE`): the number is not 0.
- JSON (an argument of json_object, json_array, json_group_array, json_type, ...): DuckDB JSON, so objects
  nest instead of becoming quoted strings.
- ORDER BY and MIN/MAX follow SQLite's order: NULL, then numbers by value, then text. `ORDER BY 2` and
  `ORDER BY alias` of such a projection sort by the projection's value; a `GROUP BY ALL` beside them is spelt
  out as positions, since DuckDB cannot bind ORDER BY expressions under GROUP BY ALL.
Several paths (`json_extract(x, '$.a', '$.b')`) give a JSON array, as in SQLite. `->` stays DuckDB's (JSON);
`->>` gets json_extract's semantics. json_each/json_tree have SQLite's columns (key, value, type, atom, id,
parent, fullkey, path); value, atom and key are text and follow the same contexts (key is an integer for array
elements in the value context). json_type answers SQLite's words, json_valid and json_array_length give
integers, json_group_array/object give [] / {} for no rows. (SQLite's other functions: skyql.sql.sqlite.)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from skyql.errors import SqlError

# json_tree gives each container its whole subtree as `value`: memory grows with the square of the depth
# (10,000 levels took 600 MB). SQLite refuses JSON nested deeper than 1000 levels; so does skyql's json_tree.
MAX_JSON_DEPTH = 1000
_TREE_SOURCE = (
    "CASE WHEN sqlite_json_too_deep(j::VARCHAR) THEN error('json_tree: the JSON is nested more than"
    f" {MAX_JSON_DEPTH} levels deep (SQLite''s limit)') ELSE j END"
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_too_deep(text: str | None) -> bool:
    """True when JSON text nests arrays and objects more than MAX_JSON_DEPTH levels (the engine's UDF)."""
    if text is None or text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for ch in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if ch in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def _table_macro(fn: str, source: str) -> str:
    """json_each / json_tree with SQLite's columns and types, over DuckDB's function of that name."""
    return (
        f"CREATE OR REPLACE MACRO sqlite_{fn}(j, p) AS TABLE SELECT key,"
        " CASE type WHEN 'VARCHAR' THEN value ->> '$' WHEN 'NULL' THEN NULL"
        " WHEN 'BOOLEAN' THEN CASE value::VARCHAR WHEN 'true' THEN '1' ELSE '0' END ELSE value::VARCHAR END AS value,"
        " CASE type WHEN 'VARCHAR' THEN 'text' WHEN 'DOUBLE' THEN sqlite_json_real_word(value::VARCHAR)"
        " WHEN 'NULL' THEN 'null' WHEN 'OBJECT' THEN 'object' WHEN 'ARRAY' THEN 'array'"
        " WHEN 'BOOLEAN' THEN value::VARCHAR ELSE 'integer' END AS type,"
        " CASE type WHEN 'VARCHAR' THEN value ->> '$' WHEN 'BOOLEAN' THEN CASE value::VARCHAR WHEN 'true'"
        " THEN '1' ELSE '0' END WHEN 'NULL' THEN NULL WHEN 'OBJECT' THEN NULL WHEN 'ARRAY' THEN NULL"
        " ELSE value::VARCHAR END AS atom,"
        f" id::BIGINT AS id, parent::BIGINT AS parent, fullkey, path FROM {fn}({source}, p)"
    )


MACROS: tuple[str, ...] = (
    # DuckDB reads integers beyond 64 bits as DOUBLE; SQLite still calls them 'integer' (valued as reals).
    "CREATE OR REPLACE MACRO sqlite_json_real_word(t) AS"
    " CASE WHEN regexp_full_match(t, '-?[0-9]+') THEN 'integer' ELSE 'real' END",
    # json_extract in a text context.
    "CREATE OR REPLACE MACRO sqlite_json_text(j, p) AS CASE json_extract(j, p)::VARCHAR"
    " WHEN 'true' THEN '1' WHEN 'false' THEN '0' ELSE json_extract_string(j, p) END",
    "CREATE OR REPLACE MACRO sqlite_json_type(j, p) AS CASE"
    " WHEN json_type(j, p) IS NULL THEN NULL"
    " WHEN json_type(j, p) = 'BOOLEAN' THEN json_extract(j, p)::VARCHAR"
    " WHEN json_type(j, p) = 'DOUBLE' THEN sqlite_json_real_word(json_extract(j, p)::VARCHAR)"
    " ELSE CASE json_type(j, p) WHEN 'VARCHAR' THEN 'text' WHEN 'NULL' THEN 'null'"
    " WHEN 'OBJECT' THEN 'object' WHEN 'ARRAY' THEN 'array' ELSE 'integer' END END",
    # A json_each value (text) back to JSON, given its SQLite type word.
    "CREATE OR REPLACE MACRO sqlite_json_each_json(v, t) AS CASE t WHEN 'text' THEN to_json(v)"
    " WHEN 'null' THEN 'null'::JSON ELSE v::JSON END",
    _table_macro("json_each", "j"),
)

# json_tree's macro needs the depth check, a Python function: registering one makes DuckDB import numpy
# (~0.1 s), so the engine installs it only for a statement that calls json_tree (TREE_MACRO_NAME in its SQL).
TREE_MACRO_NAME = "sqlite_json_tree"


def install(conn: Any) -> None:
    """Give a DuckDB connection the macros the rewrite calls (json_tree's: install_tree)."""
    for macro in MACROS:
        conn.execute(macro)


def install_tree(conn: Any) -> None:
    """The depth check and json_tree's macro."""
    conn.create_function(
        "sqlite_json_too_deep", json_too_deep, ["VARCHAR"], "BOOLEAN", null_handling="special"
    )
    conn.execute(_table_macro("json_tree", _TREE_SOURCE))


TEXT, NUMBER, TRUTH, JSON, ORDER, MINMAX, VALUE = (
    "text",
    "number",
    "truth",
    "json",
    "order",
    "minmax",
    "value",
)
# Hidden columns carrying SQLite type words are named TYPE_COLUMN + ":+i" (the i-th column from the start) or
# ":-i" (the i-th from the end of the visible ones), whichever a `*` before or after does not blur.
TYPE_COLUMN = "__skyql_sqlite_type"
_TABLE_FUNCTIONS = {"json_each", "json_tree"}
_DYNAMIC_COLUMNS = {"value", "atom", "key"}
_NUMERIC_PARENTS = (
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.IntDiv,
    exp.Mod,
    exp.Neg,
    exp.Pow,
    exp.Sum,
    exp.Avg,
    exp.Stddev,
    exp.StddevPop,
    exp.StddevSamp,
    exp.Variance,
    exp.VariancePop,
    exp.Abs,
    exp.Round,
    exp.Ceil,
    exp.Floor,
    exp.Sqrt,
    exp.Ln,
    exp.Log,
    exp.Exp,
    exp.Sign,
)
_NUMERIC_PARTNERS = (*_NUMERIC_PARENTS, exp.Count, exp.Length)
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ)
_TRUTH_PARENTS = (exp.Where, exp.Having, exp.Qualify, exp.And, exp.Or, exp.Not)
# Functions whose arguments are JSON: a json_extract result passed to them stays JSON.
_JSON_FUNCTIONS = {
    "json_array",
    "json_object",
    "json_group_array",
    "json_group_object",
    "json_array_length",
    "json_type",
    "json_valid",
    "json_extract",
    "json_insert",
    "json_set",
    "json_replace",
    "json_remove",
    "json_patch",
    "sqlite_json_each",
    "sqlite_json_tree",
    "json_each",
    "json_tree",
}
_JSON_NODES = (exp.JSONType, exp.JSONArrayAgg, exp.JSONObjectAgg, exp.JSONExtract, exp.JSONExtractScalar)


@dataclass
class _Dynamic:
    """A SQLite value of data-dependent type, and the context that picks its DuckDB type."""

    node: exp.Expression
    context: str = TEXT
    kind: exp.Expression | None = None  # the type word, for a value in the outermost select list

    def forms(self) -> tuple[exp.Expression, exp.Expression]:
        """(text form, JSON form), built from the node's current (already rewritten) arguments."""
        node = self.node
        args = _extract_args(node)
        if args is not None:
            doc, paths = args
            if len(paths) > 1:
                array = exp.Anonymous(
                    this="json_array",
                    expressions=[
                        exp.Anonymous(this="json_extract", expressions=[doc.copy(), p.copy()]) for p in paths
                    ],
                )
                return array, array.copy()
            text = exp.Anonymous(this="sqlite_json_text", expressions=[doc.copy(), paths[0].copy()])
            return text, exp.Anonymous(this="json_extract", expressions=[doc.copy(), paths[0].copy()])
        text = node.copy()
        if node.name.lower() == "key":
            return text, exp.Anonymous(this="to_json", expressions=[text.copy()])
        kind = exp.column("type", table=_json_each_alias(node))
        return text, exp.Anonymous(this="sqlite_json_each_json", expressions=[text.copy(), kind])

    def type_word(self) -> exp.Expression:
        """SQLite's type word of the value ('text', 'integer', 'real', 'true', 'object', ...), per row."""
        node = self.node
        args = _extract_args(node)
        if args is not None:
            doc, paths = args
            if len(paths) > 1:
                return exp.Literal.string("array")
            return exp.Anonymous(this="sqlite_json_type", expressions=[doc.copy(), paths[0].copy()])
        alias = _json_each_alias(node)
        if node.name.lower() == "key":
            # SQLite numbers array elements; DuckDB's fullkey ends in ']' only for them (keys are quoted).
            fullkey = exp.column("fullkey", table=alias)
            is_index = exp.Like(this=fullkey, expression=exp.Literal.string("%]"))
            return exp.Case(
                ifs=[exp.If(this=is_index, true=exp.Literal.string("integer"))],
                default=exp.Literal.string("text"),
            )
        return exp.column("type", table=alias)


def rewrite(expression: exp.Expression) -> exp.Expression:
    """A copy of `expression` whose JSON functions behave as SQLite's json1 (see the module docstring)."""
    tree = expression.copy()
    _name_projections(tree)
    _table_functions(tree)
    _order_by_projections(tree)
    dynamics = [d for node in tree.find_all(exp.Expression, bfs=False) if (d := _dynamic(node)) is not None]
    outer = tree if isinstance(tree, exp.Select) else None
    for dyn in dynamics:
        dyn.context = _context(dyn.node)
        if dyn.context == TEXT and outer is not None and _projection_index(dyn.node, outer) is not None:
            dyn.context = VALUE
    sorted_selects = [s for d in dynamics if d.context == ORDER and (s := d.node.find_ancestor(exp.Select))]
    values = [(_projection_index(d.node, outer), d) for d in dynamics if d.context == VALUE and outer]
    # Innermost first, so an outer call is rebuilt from already rewritten arguments.
    for dyn in reversed(dynamics):
        _apply(dyn)
    tree = replace_bottom_up(tree, _plain_function)
    for select in sorted_selects:
        _spell_out_group_by_all(select)
    if isinstance(tree, exp.Select):
        _add_type_columns(tree, [(i, d.kind) for i, d in values if i is not None and d.kind is not None])
    return tree


def replace_bottom_up(
    tree: exp.Expression, replace: Callable[[exp.Expression], exp.Expression | bool | None]
) -> exp.Expression:
    """Replace each node by `replace(node)` when that is a node, children before parents; the new root."""
    for node in list(tree.find_all(exp.Expression, bfs=False))[::-1]:
        replacement = replace(node)
        if isinstance(replacement, exp.Expression):
            if node is tree:
                tree = replacement
            else:
                node.replace(replacement)
    return tree


# -- finding values of dynamic type ---------------------------------------------------------------


def _fn_name(node: exp.Expression) -> str:
    return node.name.lower() if isinstance(node, exp.Anonymous) else ""


def _extract_args(node: exp.Expression) -> tuple[exp.Expression, list[exp.Expression]] | None:
    """(document, paths) when `node` is SQLite's json_extract (or `->>`), else None."""
    if isinstance(node, exp.JSONExtractScalar):
        return node.this, [node.expression, *node.expressions]
    # `->` keeps DuckDB's meaning (JSON); the function form has no only_json_types flag.
    if isinstance(node, exp.JSONExtract) and "only_json_types" not in node.args:
        return node.this, [node.expression, *node.expressions]
    if _fn_name(node) == "json_extract" and len(node.expressions) >= 2:
        return node.expressions[0], list(node.expressions[1:])
    return None


def _dynamic(node: exp.Expression) -> _Dynamic | None:
    if _extract_args(node) is not None:
        return _Dynamic(node)
    if isinstance(node, exp.Column) and node.name.lower() in _DYNAMIC_COLUMNS and _json_each_alias(node):
        return _Dynamic(node)
    return None


def _json_each_alias(column: exp.Column) -> str | None:
    """The alias of the json_each source `column` reads, if it reads one."""
    select = column.find_ancestor(exp.Select)
    if select is None:
        return None
    sources = [t for t in _sources(select) if _fn_name(t.this) in ("sqlite_json_each", "sqlite_json_tree")]
    for table in sources:
        if column.find_ancestor(exp.Table) is table:
            return None  # an argument of the table function itself
    aliases = [t.alias for t in sources]
    if column.table:
        return column.table if column.table in aliases else None
    return aliases[0] if len(aliases) == 1 else None


def _sources(select: exp.Select) -> list[exp.Table]:
    nodes = []
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is not None:
        nodes.append(from_.this)
    nodes.extend(join.this for join in select.args.get("joins") or [])
    return [n for n in nodes if isinstance(n, exp.Table) and isinstance(n.this, exp.Anonymous)]


# -- the outermost select list: values typed per row ------------------------------------------------


def type_column_target(name: str, width: int) -> int | None:
    """The position of the column a hidden type column `name` types, among `width` visible ones (else None)."""
    prefix = TYPE_COLUMN + ":"
    if not name.startswith(prefix):
        return None
    code = name[len(prefix) :]
    try:
        offset = int(code[1:])
    except ValueError:
        return None
    position = offset if code[:1] == "+" else width - 1 - offset
    return position if 0 <= position < width else None


def _projection_index(node: exp.Expression, select: exp.Select | None) -> int | None:
    """The index of `node` in `select`'s projections when it is one (under parentheses or an alias)."""
    if select is None:
        return None
    while isinstance(node.parent, exp.Paren):
        node = node.parent
    if isinstance(node.parent, exp.Alias):
        node = node.parent
    if node.parent is not select or node.arg_key != "expressions":
        return None
    return next((i for i, proj in enumerate(select.expressions) if proj is node), None)


def _add_type_columns(select: exp.Select, values: list[tuple[int, exp.Expression]]) -> None:
    """Append a hidden column with the SQLite type word of each projection in `values` (index, type word)."""
    projections = list(select.expressions)
    grouped = select.args.get("group") is not None
    hidden = []
    for index, kind in values:
        if not any(_expands(p) for p in projections[index + 1 :]):
            name = f"{TYPE_COLUMN}:-{len(projections) - 1 - index}"
        elif not any(_expands(p) for p in projections[:index]):
            name = f"{TYPE_COLUMN}:+{index}"
        else:
            continue  # between two `*`: its position is unknown until DuckDB expands them; it stays text
        if grouped and not _aggregates(kind):
            # Valid whatever the GROUP BY: the type is the same for a group's rows unless 5 and "5" meet.
            kind = exp.AnyValue(this=kind)
        hidden.append(exp.alias_(kind, exp.to_identifier(name, quoted=True)))
    select.set("expressions", projections + hidden)


def _expands(projection: exp.Expression) -> bool:
    """True for a projection that may stand for several columns (`*`, `t.*`, COLUMNS(...), unnest)."""
    if isinstance(projection, exp.Alias):
        projection = projection.this
    if isinstance(projection, exp.Column):
        return projection.is_star
    return isinstance(projection, exp.Star | exp.Columns | exp.Explode | exp.Unnest)


def _order_by_projections(tree: exp.Expression) -> None:
    """`ORDER BY 2` or `ORDER BY alias` naming a JSON value projection sorts by the value, in SQLite's order."""
    for select in tree.find_all(exp.Select):
        order = select.args.get("order")
        for ordered in order.expressions if order is not None else []:
            projection = _named_projection(select, ordered.this)
            if projection is None:
                continue
            value = projection.this if isinstance(projection, exp.Alias) else projection
            while isinstance(value, exp.Paren):
                value = value.this
            if _extract_args(value) is not None or _dynamic(value) is not None:
                ordered.set("this", value.copy())


def _named_projection(select: exp.Select, key: exp.Expression) -> exp.Expression | None:
    projections = select.expressions
    if isinstance(key, exp.Literal) and not key.is_string and key.this.isdigit():
        position = int(key.this)
        if not 1 <= position <= len(projections) or any(_expands(p) for p in projections[: position - 1]):
            return None
        return projections[position - 1]
    if isinstance(key, exp.Column) and not key.table:
        # ORDER BY names the select list's columns before the tables' (SQL's rule, and DuckDB's).
        return next(
            (p for p in projections if isinstance(p, exp.Alias) and p.alias.lower() == key.name.lower()), None
        )
    return None


def _spell_out_group_by_all(select: exp.Select) -> None:
    """GROUP BY ALL -> GROUP BY 1, 3, ...: DuckDB binds ORDER BY expressions only against explicit keys."""
    group = select.args.get("group")
    if group is None or not group.args.get("all") or any(_expands(p) for p in select.expressions):
        return
    keys = [exp.Literal.number(i + 1) for i, p in enumerate(select.expressions) if not _aggregates(p)]
    if keys:
        select.set("group", exp.Group(expressions=keys))


def _aggregates(node: exp.Expression) -> bool:
    """True if `node` aggregates or is windowed at its own level (not inside a subquery)."""
    for sub in node.walk(prune=lambda n: n is not node and isinstance(n, exp.Query | exp.Subquery)):
        if isinstance(sub, exp.AggFunc | exp.Window):
            return True
        if isinstance(sub, exp.Anonymous) and sub.name.lower() in _aggregate_names():
            return True
    return False


@functools.cache
def _aggregate_names() -> frozenset[str]:
    """DuckDB's aggregate functions sqlglot does not know by name (the json_group_* are DuckDB macros)."""
    import duckdb

    with duckdb.connect(":memory:") as conn:
        rows = conn.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() WHERE function_type = 'aggregate'"
        ).fetchall()
    return frozenset(name for (name,) in rows) | {
        "json_group_array",
        "json_group_object",
        "json_group_structure",
    }


# -- choosing the type from the context ----------------------------------------------------------


def _context(node: exp.Expression) -> str:
    child, parent = node, node.parent
    while isinstance(parent, exp.Paren):
        child, parent = parent, parent.parent
    if parent is None:
        return TEXT
    if isinstance(parent, _NUMERIC_PARENTS):
        return NUMBER
    if isinstance(parent, (exp.Cast, exp.TryCast)):
        return _type_kind(parent.to)
    if isinstance(parent, _COMPARISONS):
        other = parent.expression if child is parent.this else parent.this
        kind = _kind(other)
        return kind if kind in (NUMBER, TRUTH) else TEXT
    if isinstance(parent, exp.Between):
        partners = (
            [parent.args.get("low"), parent.args.get("high")] if child is parent.this else [parent.this]
        )
        return NUMBER if any(_kind(p) == NUMBER for p in partners if p is not None) else TEXT
    if isinstance(parent, exp.In) and child is parent.this:
        return NUMBER if any(_kind(p) == NUMBER for p in parent.expressions) else TEXT
    if isinstance(parent, _TRUTH_PARENTS) or (isinstance(parent, exp.If) and child is parent.this):
        return TRUTH
    if isinstance(parent, exp.Join) and child is parent.args.get("on"):
        return TRUTH
    if isinstance(parent, exp.Ordered):
        return ORDER
    # A branch of COALESCE / CASE is a number beside a number, else compared or sorted as the whole is.
    if isinstance(parent, exp.Coalesce):
        return _branch_context(parent, [parent.this, *parent.expressions], child)
    if isinstance(parent, exp.Case) and child is parent.args.get("default"):
        return _branch_context(parent, _case_branches(parent), child)
    if (
        isinstance(parent, exp.If)
        and child is parent.args.get("true")
        and isinstance(parent.parent, exp.Case)
    ):
        return _branch_context(parent.parent, _case_branches(parent.parent), child)
    if isinstance(parent, (exp.Max, exp.Min)) and not parent.expressions:
        return NUMBER if _context(parent) == NUMBER else MINMAX
    if isinstance(parent, _JSON_NODES) and child is not parent.args.get("expression"):
        return JSON
    if isinstance(parent, exp.JSONKeyValue) and child is parent.expression:
        return JSON
    if isinstance(parent, (exp.JSONObject, exp.JSONArray)):
        return JSON
    if _fn_name(parent) in _JSON_FUNCTIONS:
        return JSON
    return TEXT


def _branch_context(
    whole: exp.Expression, branches: list[exp.Expression | None], child: exp.Expression
) -> str:
    if any(b is not None and b is not child and _kind(b) == NUMBER for b in branches):
        return NUMBER
    return _context(whole)


def _case_branches(case: exp.Expression) -> list[exp.Expression | None]:
    return [i.args.get("true") for i in case.args.get("ifs") or []] + [case.args.get("default")]


def _type_kind(to: exp.DataType) -> str:
    if to.is_type(*exp.DataType.NUMERIC_TYPES):
        return NUMBER
    if to.is_type(exp.DataType.Type.BOOLEAN):
        return TRUTH
    if to.is_type(exp.DataType.Type.JSON):
        return JSON
    return TEXT


def _kind(node: exp.Expression) -> str:
    """What a comparison partner is: NUMBER, TRUTH or TEXT (unknown columns count as text)."""
    while isinstance(node, (exp.Paren, exp.Neg)):
        node = node.this
    if isinstance(node, exp.Literal):
        return TEXT if node.is_string else NUMBER
    if isinstance(node, exp.Boolean):
        return TRUTH
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return _type_kind(node.to)
    if isinstance(node, _NUMERIC_PARTNERS) or _fn_name(node) == "json_array_length":
        return NUMBER
    return TEXT


# -- rewriting -------------------------------------------------------------------------------------


def _number(text: exp.Expression) -> exp.Expression:
    return exp.TryCast(this=text, to=exp.DataType.build("DOUBLE"))


def _apply(dyn: _Dynamic) -> None:
    node = dyn.node
    text, as_json = dyn.forms()
    if dyn.context == NUMBER:
        node.replace(_number(text))
    elif dyn.context == TRUTH:
        node.replace(exp.Paren(this=exp.NEQ(this=_number(text), expression=exp.Literal.number(0))))
    elif dyn.context == JSON:
        node.replace(as_json)
    elif dyn.context == VALUE:
        dyn.kind = dyn.type_word()
        node.replace(text)
    elif dyn.context == ORDER:
        node.replace(text)
        _order_like_sqlite(text.find_ancestor(exp.Ordered))
    elif dyn.context == MINMAX:
        node.replace(text)
        aggregate = text.find_ancestor(exp.Max, exp.Min)
        if aggregate is not None:
            aggregate.replace(_minmax_like_sqlite(aggregate, aggregate.this))
    else:
        node.replace(text)


def _order_like_sqlite(ordered: exp.Ordered | None) -> None:
    """Sort NULL, then numbers by value, then text, as SQLite orders values of mixed type."""
    if ordered is None or not isinstance(ordered.parent, exp.Order):
        return
    value = ordered.this
    desc = bool(ordered.args.get("desc"))
    nulls_first = bool(ordered.args.get("nulls_first"))
    number = _number(value.copy())
    null_rank = 0 if nulls_first != desc else 3
    rank = exp.Case(
        ifs=[
            exp.If(this=exp.Is(this=value.copy(), expression=exp.Null()), true=exp.Literal.number(null_rank)),
            exp.If(
                this=exp.Not(this=exp.Is(this=number.copy(), expression=exp.Null())),
                true=exp.Literal.number(1),
            ),
        ],
        default=exp.Literal.number(2),
    )
    keys = [exp.Ordered(this=k, desc=desc, nulls_first=False) for k in (rank, number, value.copy())]
    order = ordered.parent
    items = []
    for item in order.expressions:
        items.extend(keys if item is ordered else [item])
    order.set("expressions", items)


def _minmax_like_sqlite(aggregate: exp.Expression, value: exp.Expression) -> exp.Expression:
    """MAX is the largest text if there is any text, else the largest number; MIN the reverse."""
    number = _number(value.copy())
    by_number = exp.Anonymous(
        this="arg_max" if isinstance(aggregate, exp.Max) else "arg_min", expressions=[value.copy(), number]
    )
    text_only = exp.Filter(
        this=type(aggregate)(this=value.copy()),
        expression=exp.Where(this=exp.Is(this=number.copy(), expression=exp.Null())),
    )
    first, second = (text_only, by_number) if isinstance(aggregate, exp.Max) else (by_number, text_only)
    return exp.Coalesce(this=first, expressions=[second])


def _name_projections(tree: exp.Expression) -> None:
    """Keep SQLite's column names (the expression's text) for projections the rewrite will change."""
    for select in tree.find_all(exp.Select):
        for i, proj in enumerate(select.expressions):
            if isinstance(proj, (exp.Alias, exp.Column, exp.Star)):
                continue
            if any(_extract_args(n) is not None or _plain_function(n, dry=True) for n in proj.walk()):
                name = _display_name(proj)
                select.expressions[i] = exp.alias_(proj, exp.to_identifier(name, quoted=True))
        select.set("expressions", list(select.expressions))


def _display_name(proj: exp.Expression) -> str:
    """The projection as a user writes it: json_extract stays a function, not DuckDB's `->`."""
    copy = proj.copy()
    for node in list(copy.walk()):
        args = _extract_args(node)
        if args is not None and "only_json_types" not in node.args and not isinstance(node, exp.Anonymous):
            call = exp.Anonymous(this="json_extract", expressions=[args[0], *args[1]])
            if node is copy:
                copy = call
            else:
                node.replace(call)
    return copy.sql("sqlite", normalize_functions="lower")


def _table_functions(tree: exp.Expression) -> None:
    """json_each(x[, path]) -> sqlite_json_each(x, path) AS json_each (SQLite's columns and values)."""
    for table in list(tree.find_all(exp.Table)):
        fn = table.this
        name = _fn_name(fn)
        if name not in _TABLE_FUNCTIONS:
            continue
        args = list(fn.expressions)
        if not args or len(args) > 2:
            raise SqlError(f"{name}() takes a JSON value and an optional path")
        if len(args) == 1:
            args.append(exp.Literal.string("$"))
        table.set("this", exp.Anonymous(this=f"sqlite_{name}", expressions=args))
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))


def _plain_function(node: exp.Expression, dry: bool = False) -> exp.Expression | bool | None:
    """The DuckDB form of a JSON function whose result type does not depend on the context."""
    builder = _builder(node)
    if builder is None:
        return None
    return True if dry else builder()


def _builder(node: exp.Expression) -> Callable[[], exp.Expression] | None:
    name = _fn_name(node)
    args = list(node.expressions) if isinstance(node, exp.Anonymous) else []

    def anon(fn: str, *a: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this=fn, expressions=list(a))

    def cast(e: exp.Expression, to: str) -> exp.Expression:
        return exp.Cast(this=e, to=exp.DataType.build(to))

    if isinstance(node, exp.JSONType):
        path = node.expression or exp.Literal.string("$")
        return lambda: anon("sqlite_json_type", node.this, path)
    if name == "json_type" and args:
        return lambda: anon(
            "sqlite_json_type", args[0], args[1] if len(args) > 1 else exp.Literal.string("$")
        )
    if name == "json_array_length":
        return lambda: cast(anon("json_array_length", *args), "BIGINT")
    if name == "json_valid":
        return lambda: cast(anon("json_valid", *args), "INTEGER")
    if isinstance(node, exp.JSONArrayAgg) or name == "json_group_array":
        value = node.this if isinstance(node, exp.JSONArrayAgg) else args[0]
        return lambda: exp.Coalesce(
            this=anon("json_group_array", value), expressions=[cast(exp.Literal.string("[]"), "JSON")]
        )
    if isinstance(node, exp.JSONObjectAgg) or name == "json_group_object":
        pair = list(node.expressions) if isinstance(node, exp.JSONObjectAgg) else args
        return lambda: exp.Coalesce(
            this=anon("json_group_object", *pair), expressions=[cast(exp.Literal.string("{}"), "JSON")]
        )
    return None
