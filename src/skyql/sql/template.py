"""Render .iql templates in a sandbox: Jinja2 and StackQL's Go spellings, rendered once, values kept in place.

Templates read variables and nothing else: Jinja's ImmutableSandboxedEnvironment (no attribute of Python's
internals, no file, no import), Go fields read only keys of maps. Every substituted value goes in as an opaque
marker; placement.py then writes it for the place it landed in (a '...' string, a comment, bare SQL, ...), so
a value cannot end its literal and start SQL of its own. Each line also carries a marker of its template line,
so that a statement made by a loop is still named by the line it was written on.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyql.errors import SkyqlError, SqlError
from skyql.sql import gotemplate, placement

if TYPE_CHECKING:
    import jinja2

_TEMPLATE_FILE = "<template>"
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_HOW = "pass --var {name}=VALUE or put it in the --iqldata file"
_MAX_SIZE = 50_000_000  # characters one expression may build ('x' * n): a typo must not eat the memory


@dataclass(frozen=True)
class Rendered:
    text: str
    origin: list[int] | None  # for each line of text, the template line it came from; None: the same line


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text or "<<<" in text


def render_template(text: str, variables: Mapping[str, Any]) -> str:
    """The text with {{ }} / {% %} rendered, each value written for where it lands in the SQL."""
    if not is_template(text):
        return text
    return render_script(text, variables).text


def render_script(
    text: str, variables: Mapping[str, Any], *, folder: Path | None = None, imports: bool = True
) -> Rendered:
    """Render a whole script once; <<<jsonnet / <<<json blocks first give it their data (StackQL's way).

    folder is where the script lives: a jsonnet import may read files there (and below) and nowhere else;
    imports=False refuses every import (--safe).
    """
    if not is_template(text):
        return Rendered(text, None)
    data = dict(variables)
    if "<<<" in text:
        from skyql.sql import datablocks

        text, blocks = datablocks.split(text)
        if blocks:
            data.update(datablocks.evaluate(blocks, variables, folder=folder, imports=imports))
    if "{{" not in text and "{%" not in text:
        return Rendered(text, None)
    return _render(text, data)


# -- one render ---------------------------------------------------------------------------------------


class _Fragment(str):
    """Text the template itself produced (a {% set %} block, a macro): its values are still markers."""


class _Raw(str):
    """A value the template's author marked `|safe`: SQL text, written as it is."""


@dataclass
class _Marks:
    """Private-use characters absent from the template, and a per-render nonce no value can guess."""

    open: str
    line: str
    value: str
    close: str
    nonce: str

    @classmethod
    def for_text(cls, text: str) -> _Marks:
        free = (chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text)
        return cls(next(free), next(free), next(free), next(free), str(secrets.randbelow(10**12)))

    def line_mark(self, number: int) -> str:
        return f"{self.open}{self.nonce}{self.line}{number}{self.close}"

    def value_mark(self, index: int) -> str:
        return f"{self.open}{self.nonce}{self.value}{index}{self.close}"

    def pattern(self, kind: str) -> re.Pattern[str]:
        return re.compile(re.escape(f"{self.open}{self.nonce}{kind}") + r"(\d+)" + re.escape(self.close))


@dataclass
class _State:
    marks: _Marks
    root: dict[str, Any]
    values: list[Any]

    def add(self, value: Any) -> str:
        if isinstance(value, str) and self.marks.open in value:
            # `x ~ v` where x holds markers: the whole string is the value; its parts lose their markers.
            value = self.marks.pattern(self.marks.value).sub(
                lambda m: placement.text_of(self.values[int(m.group(1))]), value
            )
            value = self.marks.pattern(self.marks.line).sub("", value)
        self.values.append(value)
        return self.marks.value_mark(len(self.values) - 1)


_STATE: contextvars.ContextVar[_State] = contextvars.ContextVar("skyql_template_state")


def _render(text: str, data: dict[str, Any]) -> Rendered:
    import jinja2

    marks = _Marks.for_text(text)
    state = _State(marks, data, [])
    token = _STATE.set(state)
    try:
        source = gotemplate.to_jinja(_mark_lines(text, marks))
        env = _environment()
        try:
            tree = env.parse(source)
            _refuse_filter_blocks(tree)
            template = env.from_string(tree)
        except jinja2.TemplateSyntaxError as err:
            raise SqlError(f"template syntax error at line {err.lineno}: {err.message}") from None
        except SyntaxError as err:  # what Jinja's compiler leaves to Python, e.g. {% break %} outside a loop
            raise SqlError(f"template syntax error: {err.msg}") from None
        try:
            skeleton = template.render({**data, gotemplate.ROOT: data})
        except jinja2.UndefinedError as err:
            raise _undefined(err) from None
        except jinja2.sandbox.SecurityError as err:
            raise SqlError(
                f"template line {_template_line(err)}: not allowed: {err} (templates can read variables, "
                "nothing else)"
            ) from None
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as err:
            raise SqlError(f"template error at line {_template_line(err)}: {err}") from None
        except SkyqlError:
            raise
        except RecursionError:
            raise SqlError("template error: it calls itself without end") from None
    finally:
        _STATE.reset(token)
    return _place_values(text, str(skeleton), state)


def _place_values(template: str, skeleton: str, state: _State) -> Rendered:
    """Lines back to the template's, then every value marker replaced by the value written for its place."""
    from skyql.sql.script import tokenize

    marks = state.marks
    line_mark = marks.pattern(marks.line)
    origin: list[int] = []
    previous = 0
    lines = skeleton.split("\n")
    for line in lines:
        found = line_mark.search(line)
        previous = int(found.group(1)) if found else previous + 1
        origin.append(previous)
    sql = line_mark.sub("", skeleton)
    template_lines = template.split("\n")
    value_mark = marks.pattern(marks.value)
    try:
        kinds = placement.places(sql, value_mark, tokenize)
    except SqlError as err:
        message = value_mark.sub("{{ }}", str(err))
        raise _at_template_line(SqlError(message), origin) from None
    out: list[str] = []
    final_origin: list[int] = []
    position = 0
    line_index = 0  # counted as we go: a loop can make thousands of values
    matches = list(value_mark.finditer(sql))
    for match, kind in zip(matches, kinds, strict=True):
        out.append(sql[position : match.start()])
        line_index += sql.count("\n", position, match.start())
        before = out[-1][-1:] if out[-1] else (out[-2][-1:] if len(out) > 1 else "")
        after = sql[match.end() : match.end() + 1]
        line_no = origin[line_index]
        try:
            out.append(placement.write(state.values[int(match.group(1))], kind, before, after))
        except placement.Refused as err:
            shown = template_lines[line_no - 1] if 0 < line_no <= len(template_lines) else ""
            raise placement.refused(str(err), line_no, shown) from None
        position = match.end()
    out.append(sql[position:])
    final = "".join(out)
    if final.count("\n") == sql.count("\n"):
        return Rendered(final, origin)
    # Values with line breaks add lines: each belongs to the template line of the value.
    for index, line in enumerate(sql.split("\n")):
        added = sum(
            placement.text_of(state.values[int(m.group(1))]).count("\n") for m in value_mark.finditer(line)
        )
        final_origin.extend([origin[index]] * (added + 1))
    return Rendered(final, final_origin)


_POSITION = re.compile(r"line (\d+)")


def _at_template_line(err: SqlError, origin: list[int]) -> SqlError:
    def move(match: re.Match[str]) -> str:
        rendered = int(match.group(1))
        return f"line {origin[min(rendered, len(origin)) - 1]}"

    return SqlError(_POSITION.sub(move, str(err), count=1))


def _refuse_filter_blocks(tree: Any) -> None:
    """A {% filter %} block's output is neither the author's text nor a value: it cannot be placed safely."""
    from jinja2 import nodes

    for node in tree.find_all(nodes.FilterBlock):
        raise SqlError(
            f"template line {node.lineno}: {{% filter %}} blocks are not supported; apply the filter to the "
            "value instead, e.g. {{ name|upper }}"
        )


# -- where each rendered line came from ----------------------------------------------------------------

_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def _mark_lines(template: str, marks: _Marks) -> str:
    """A marker before the first non-blank character of each line that does not start inside a tag."""
    import bisect

    spans = [(m.start(), m.end()) for m in _TAG.finditer(template)]
    starts = [s for s, _ in spans]
    parts: list[str] = []
    offset = 0
    # Lines end at "\n" only, as the statement splitter counts them (not at \r, \f or U+2028).
    for number, line in enumerate(template.split("\n"), 1):
        body = len(line) - len(line.lstrip(" \t"))
        at = offset + body
        i = bisect.bisect_right(starts, at) - 1
        inside = i >= 0 and spans[i][0] < at < spans[i][1]
        # `{%-` / `{{-` trim the whitespace before them: a marker there would stop the trim.
        trims = template.startswith(("{%-", "{{-"), at)
        if line.strip() and not inside and not trims:
            parts.append(f"{line[:body]}{marks.line_mark(number)}{line[body:]}")
        else:
            parts.append(line)
        offset += len(line) + 1
    return "\n".join(parts)


# -- errors ---------------------------------------------------------------------------------------------


def _undefined(err: jinja2.UndefinedError) -> SqlError:
    line = _template_line(err)
    match = _UNDEFINED_NAME.match(str(err.message))
    if match and not match.group(1).startswith("_go"):
        name = match.group(1)
        return SqlError(f"template variable '{name}' is not defined (line {line}): {_HOW.format(name=name)}")
    return SqlError(
        f"template value missing at line {line}: {err.message} (check the data given with --var NAME=VALUE "
        "or --iqldata)"
    )


def _template_line(err: BaseException) -> int | str:
    """Jinja rewrites tracebacks so the template's own frames carry template line numbers."""
    line: int | str = "?"
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# -- the environment ------------------------------------------------------------------------------------


def _finalize(value: Any) -> str:
    """Every {{ }} output: the author's own text passes, a value becomes a marker placed after rendering."""
    if isinstance(value, _Raw | _Fragment):
        return str(value)
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here, inside the render, where its line is known
    return _STATE.get().add(value)


def _concat(parts: Any) -> str:
    return _Fragment("".join(parts))


def _safe(value: Any) -> _Raw:
    return _Raw(placement.text_of(value))


def _tojson(value: Any, indent: int | None = None) -> str:
    """Jinja's tojson as plain text (not Markup): it is a value like any other and is placed like one."""
    from jinja2.utils import htmlsafe_json_dumps

    return str(htmlsafe_json_dumps(value, indent=indent, sort_keys=True))


def _sql_list(value: Any) -> _Raw:
    """stackql-deploy's sql_list: ('a','b') for an IN list, each item's quotes doubled here."""
    import json

    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value)
        except ValueError:
            items = [value]
    if not items:
        return _Raw("(NULL)")
    return _Raw("(" + ",".join("'" + placement.text_of(i).replace("'", "''") + "'" for i in items) + ")")


@cache
def _environment() -> jinja2.Environment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class Environment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})
        concat = staticmethod(_concat)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and abs(right) > 1000:
                raise SecurityError("exponent too large")
            if operator == "*" and isinstance(left, int) and isinstance(right, str | list | tuple):
                left, right = right, left
            sized = operator == "*" and isinstance(left, str | list | tuple) and isinstance(right, int)
            if sized and len(left) * right > _MAX_SIZE:
                raise SecurityError("the result would be too large")
            return super().call_binop(context, operator, left, right)

    env = Environment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_finalize,
        extensions=["jinja2.ext.loopcontrols"],
    )
    env.filters["safe"] = _safe
    env.filters["tojson"] = _tojson
    env.filters.update(_stackql_deploy_filters())
    env.filters["sql_list"] = _sql_list
    env.globals.update(gotemplate.HELPERS)
    env.globals["uuid"] = lambda: str(__import__("uuid").uuid4())
    return env


def _stackql_deploy_filters() -> dict[str, Any]:
    """The filters stackql-deploy adds to Jinja, so that its resource files render here too."""
    import base64
    import json

    def from_json(value: str) -> Any:
        return json.loads(value)

    def base64_encode(value: str) -> str:
        return base64.b64encode(str(value).encode()).decode()

    def as_json(value: Any, kind: type) -> Any:
        decoded = json.loads(value) if isinstance(value, str) else value
        if not isinstance(decoded, kind):
            raise ValueError(f"expected a {kind.__name__} or its JSON text")
        return decoded

    def merge_lists(first: Any, second: Any) -> list[Any]:
        seen = {json.dumps(i, sort_keys=True) for i in as_json(first, list) + as_json(second, list)}
        return [json.loads(i) for i in sorted(seen)]

    def merge_objects(first: Any, second: Any) -> dict[str, Any]:
        return {**as_json(first, dict), **as_json(second, dict)}

    def generate_patch_document(properties: Mapping[str, Any]) -> str:
        doc = []
        for key, value in properties.items():
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            doc.append({"op": "add", "path": f"/{key}", "value": value})
        return json.dumps(doc)

    def sql_escape(value: Any) -> Any:
        # Values are escaped for their place already: escaping here too would double the quotes twice.
        return value

    return {
        "from_json": from_json,
        "base64_encode": base64_encode,
        "merge_lists": merge_lists,
        "merge_objects": merge_objects,
        "generate_patch_document": generate_patch_document,
        "sql_escape": sql_escape,
    }
