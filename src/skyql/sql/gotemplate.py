"""StackQL's Go templates (text/template) rewritten as Jinja before rendering, with every line kept in place.

Handled as Go has them: {{ .x.y }}, {{ . }}, {{ $ }}, {{ $.x }}, variables ({{ $x := PIPELINE }}, {{ $x = ... }}),
{{ range PIPELINE }} (also $v := and $i, $v :=, {{ else }}, {{ break }}, {{ continue }}), {{ if }} / {{ else if }}
/ {{ else }}, {{ with }} / {{ else }}, {{ end }}, pipelines (x | f a), parentheses ((index .xs 0).name), comments,
{{- -}} trimming, and the functions and, or, not, eq, ne, lt, le, gt, ge, len, index, slice, printf, print,
println, html, js, urlquery. A field is a key of a map, never a Python attribute or method. call, template,
define and block are refused. A tag that is not Go ({{ project }}, {{ x|upper }}) is left for Jinja.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from skyql.errors import SqlError

_TAG = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\\n]|\\.)*")
      |(?P<raw>`[^`]*`)
      |(?P<char>'(?:[^'\\\n]|\\.)+')
      |(?P<assign>:=|=)
      |(?P<open>\()|(?P<close>\))|(?P<pipe>\|)|(?P<comma>,)
      |(?P<field>(?:\.[A-Za-z_]\w*)+)
      |(?P<var>\$[A-Za-z_]\w*|\$)
      |(?P<number>[-+]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))
      |(?P<dot>\.)
      |(?P<ident>[A-Za-z_]\w*)
      |(?P<space>\s+)
      |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_KEYWORDS = {"range", "if", "else", "end", "with", "break", "continue", "define", "template", "block"}
_FUNCTIONS = {
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "slice",
    "printf",
    "print",
    "println",
    "html",
    "js",
    "urlquery",
    "call",
}
_GO_START = re.compile(r"""[.$"`(\d]""")

ROOT = "_go_root"  # the Jinja name of the whole data: Go's $ and the top-level .
_VARS = (
    "_go_vars"  # a Jinja namespace that holds the Go variables ($x), so that `$x = ...` in a loop persists
)


class _GoError(Exception):
    pass


@dataclass
class _Block:
    kind: str  # range, if, with
    line: int
    dot: str  # the Jinja expression `.` stands for inside the block
    outer_dot: str
    loop_vars: dict[str, str] = field(default_factory=dict)  # $name -> Jinja loop variable


class _Translator:
    def __init__(self, text: str) -> None:
        self.text = text
        self.blocks: list[_Block] = []
        self.counter = 0
        self.line = 1
        self.declared: set[str] = set()
        self.uses_vars = False

    @property
    def dot(self) -> str:
        return self.blocks[-1].dot if self.blocks else ROOT

    def run(self) -> str:
        out = _TAG.sub(self._tag, self.text)
        if self.blocks:
            block = self.blocks[-1]
            raise SqlError(
                f"template line {block.line}: {{{{ {block.kind} }}}} has no matching {{{{ end }}}}"
            )
        if self.uses_vars:
            out = f"{{% set {_VARS} = namespace() %}}" + out
        return out

    def _tag(self, match: re.Match[str]) -> str:
        left, body, right = match.groups()
        self.line = self.text.count("\n", 0, match.start()) + 1
        content = body.strip()
        try:
            translated = self._translate(content)
        except _GoError as err:
            raise SqlError(f"template line {self.line}: {err} (in {{{{ {content} }}}})") from None
        if translated is None:
            return match.group(0)
        kind, jinja = translated
        newlines = "\n" * body.count("\n")  # keep line numbers identical for error messages
        if kind == "comment":
            return "{#" + left + newlines + right + "#}"
        if kind == "statement":
            parts = jinja if isinstance(jinja, list) else [jinja]
            tags = [f"{{% {p} %}}" for p in parts]
            tags[0] = "{%" + left + tags[0][2:]
            tags[-1] = tags[-1][:-2] + newlines + right + "%}"
            return "".join(tags)
        return "{{" + left + " " + jinja + newlines + " " + right + "}}"

    def _translate(self, content: str) -> tuple[str, Any] | None:
        if content.startswith("/*") and content.endswith("*/"):
            return "comment", ""
        head, rest = (content.split(None, 1) + ["", ""])[:2]
        rest = rest.strip()
        if head in _KEYWORDS:
            return "statement", self._keyword(head, rest)
        declaration = re.match(r"(\$[A-Za-z_]\w*)\s*(:?=)(?!=)\s*(.*)\Z", content, re.DOTALL)
        if declaration:
            name, op, expr = declaration.groups()
            return "statement", self._assign(name[1:], op, expr)
        if content[:1] in (".", "$"):
            return "expression", f"_go_print({self._pipeline(content)})"
        if (head in _FUNCTIONS and rest and _GO_START.match(rest)) or content.startswith("("):
            try:
                return "expression", f"_go_print({self._pipeline(content)})"
            except _GoError:
                if content.startswith("(") or rest[:1] == "(":
                    return None  # Jinja's own parentheses, e.g. {{ not (a or b) }}
                raise
        return None

    def _keyword(self, head: str, rest: str) -> Any:
        if head == "range":
            return self._range(rest)
        if head == "if":
            jinja = f"if {self._pipeline(rest, condition=True)}"
            self.blocks.append(_Block("if", self.line, self.dot, self.dot))
            return jinja
        if head == "with":
            return self._with(rest)
        if head == "else":
            return self._else(rest)
        if head == "end":
            if rest:
                raise _GoError("unexpected text after end")
            if not self.blocks:
                raise _GoError("{{ end }} has no matching {{ if }}, {{ range }} or {{ with }}")
            block = self.blocks.pop()
            return {"range": "endfor", "if": "endif", "with": ["endif", "endwith"]}[block.kind]
        if head in ("break", "continue"):
            if not any(b.kind == "range" for b in self.blocks):
                raise _GoError(f"{{{{ {head} }}}} outside {{{{ range }}}}")
            return head
        raise _GoError(
            f"{head} is not supported in skyql scripts: write the statements out, or loop with range"
        )

    def _assign(self, name: str, op: str, expr: str) -> str:
        if op == "=" and name not in self.declared and not self._loop_var(name):
            raise _GoError(f"undefined variable ${name}")
        value = self._pipeline(expr)
        loop_var = self._loop_var(name)
        if op == "=" and loop_var:
            return f"set {loop_var} = {value}"
        self.declared.add(name)
        self.uses_vars = True
        return f"set {_VARS}.v_{name} = {value}"

    def _loop_var(self, name: str) -> str | None:
        for block in reversed(self.blocks):
            if name in block.loop_vars:
                return block.loop_vars[name]
        return None

    def _range(self, rest: str) -> str:
        names: list[str] = []
        declared = re.match(r"(\$[A-Za-z_]\w*(?:\s*,\s*\$[A-Za-z_]\w*)?)\s*:=(.*)\Z", rest, re.DOTALL)
        if declared:
            names = [n.strip()[1:] for n in declared.group(1).split(",")]
            rest = declared.group(2)
        source = self._pipeline(rest.strip())
        self.counter += 1
        outer = self.dot
        if len(names) == 2:
            index, item = (f"_go_r{self.counter}_{n}" for n in names)
            loop = f"for {index}, {item} in _go_pairs({source})"
            loop_vars = {names[0]: index, names[1]: item}
        else:
            item = f"_go_r{self.counter}_{names[0]}" if names else f"_go_r{self.counter}"
            loop = f"for {item} in _go_items({source})"
            loop_vars = {names[0]: item} if names else {}
        self.blocks.append(_Block("range", self.line, item, outer, loop_vars))
        return loop

    def _with(self, rest: str) -> list[str]:
        self.counter += 1
        name = f"_go_w{self.counter}"
        declared = re.match(r"\$([A-Za-z_]\w*)\s*:=(.*)\Z", rest, re.DOTALL)
        expr = self._pipeline((declared.group(2) if declared else rest).strip(), condition=True)
        parts = [f"with {name} = {expr}"]
        if declared:
            self.declared.add(declared.group(1))
            self.uses_vars = True
            parts.append(f"set {_VARS}.v_{declared.group(1)} = {name}")
        parts.append(f"if {name}")
        self.blocks.append(_Block("with", self.line, name, self.dot))
        return parts

    def _else(self, rest: str) -> str:
        if not self.blocks:
            raise _GoError("{{ else }} has no matching {{ if }}, {{ range }} or {{ with }}")
        block = self.blocks[-1]
        if not rest:
            block.dot = block.outer_dot  # in else, `.` is what it was before the block
            return "else"
        head, condition = (rest.split(None, 1) + ["", ""])[:2]
        if head != "if" or block.kind != "if":
            raise _GoError(f"else {head} is not supported here; nest an {{{{ if }}}} inside {{{{ else }}}}")
        return f"elif {self._pipeline(condition.strip(), condition=True)}"

    # -- expressions ------------------------------------------------------------------------------------

    def _pipeline(self, text: str, condition: bool = False) -> str:
        tokens = _tokens(text)
        if not tokens:
            raise _GoError("missing value")
        parser = _Parser(self, tokens, condition)
        expr = parser.pipeline()
        if parser.at < len(tokens):
            raise _GoError(f"unexpected {tokens[parser.at][1]!r}")
        return expr


def _tokens(text: str) -> list[tuple[str, str, bool]]:
    """(kind, text, space before) for each token of a Go expression."""
    out: list[tuple[str, str, bool]] = []
    spaced = True
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind == "space":
            spaced = True
            continue
        if kind == "other":
            raise _GoError(f"unexpected {match.group()!r}")
        out.append((kind, match.group(), spaced))
        spaced = False
    return out


class _Parser:
    def __init__(self, translator: _Translator, tokens: list[tuple[str, str, bool]], condition: bool) -> None:
        self.tr = translator
        self.tokens = tokens
        self.at = 0
        self.condition = condition

    def peek(self) -> tuple[str, str, bool] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def pipeline(self) -> str:
        expr = self.command(None)
        while (tok := self.peek()) is not None and tok[0] == "pipe":
            self.at += 1
            expr = self.command(expr)
        return expr

    def command(self, piped: str | None) -> str:
        operands: list[tuple[str, str]] = []
        condition = self.condition
        while (tok := self.peek()) is not None and tok[0] not in ("pipe", "close"):
            operands.append(self.operand())
            if operands[0] in (("fn", "and"), ("fn", "or"), ("fn", "not")):
                self.condition = True  # a missing key is false here, as in Go: {{ or .region "us-east1" }}
        self.condition = condition
        if not operands:
            raise _GoError("missing value in pipeline")
        kind, head = operands[0]
        if kind == "fn":
            args = [self.value(o) for o in operands[1:]]
            if piped is not None:
                args.append(piped)
            return self.call(head, args)
        if len(operands) > 1 or piped is not None:
            raise _GoError("cannot give an argument to a value that is not a function")
        return head

    def value(self, operand: tuple[str, str]) -> str:
        kind, text = operand
        if kind == "fn":
            raise _GoError(f"function {text} needs arguments: write ({text} ...)")
        return text

    def call(self, name: str, args: list[str]) -> str:
        fixed = {"not": 1, "len": 1}
        if name in fixed and len(args) != fixed[name]:
            raise _GoError(f"{name} takes {fixed[name]} argument")
        if name in ("eq", "ne", "lt", "le", "gt", "ge") and len(args) < 2:
            raise _GoError(f"{name} needs two arguments")
        if name == "and" or name == "or":
            if not args:
                raise _GoError(f"{name} needs arguments")
            return "(" + f" {name} ".join(args) + ")"
        if name == "not":
            return f"(not {args[0]})"
        if name == "call":
            raise _GoError("call runs functions, which skyql templates cannot do")
        if name == "index" and not args:
            raise _GoError("index needs a value")
        target = "print_fn" if name == "print" else name
        return f"_go_{target}({', '.join(args)})"

    def operand(self) -> tuple[str, str]:
        kind, text, _ = self.tokens[self.at]
        self.at += 1
        if kind == "ident":
            if text in ("true", "false"):
                return "value", text
            if text == "nil":
                return "value", "none"
            if text in _FUNCTIONS:
                return "fn", text
            raise _GoError(f'function "{text}" not defined')
        if kind == "string":
            return "value", json.dumps(_go_string(text[1:-1]))
        if kind == "raw":
            return "value", json.dumps(text[1:-1])
        if kind == "char":
            return "value", str(ord(_go_string(text[1:-1])))
        if kind == "number":
            return "value", repr(_go_number(text))
        if kind == "dot":
            return "value", self.fields(self.tr.dot, root=self.tr.dot == ROOT)
        if kind == "field":
            return "value", self.chain(self.tr.dot, text, root=self.tr.dot == ROOT)
        if kind == "var":
            if text == "$":
                return "value", self.fields(ROOT, root=True)
            name = text[1:]
            loop_var = self.tr._loop_var(name)
            if loop_var:
                return "value", self.fields(loop_var)
            if name not in self.tr.declared:
                raise _GoError(f"undefined variable ${name}")
            return "value", self.fields(f"{_VARS}.v_{name}")
        if kind == "open":
            inner = self.pipeline()
            if (tok := self.peek()) is None or tok[0] != "close":
                raise _GoError("unclosed (")
            self.at += 1
            return "value", self.fields(f"({inner})")
        raise _GoError(f"unexpected {text!r}")

    def fields(self, base: str, root: bool = False) -> str:
        """A base followed directly (no space) by .a.b reads those keys."""
        tok = self.peek()
        if tok is not None and tok[0] == "field" and not tok[2]:
            self.at += 1
            return self.chain(base, tok[1], root)
        return base

    def chain(self, base: str, path: str, root: bool = False) -> str:
        keys = ", ".join(json.dumps(k) for k in path[1:].split("."))
        fn = "_go_opt" if self.condition else "_go_field"
        return f"{fn}({base}, {str(root).lower()}, {keys})"


def _go_string(body: str) -> str:
    try:
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        raise _GoError(f'bad escape in "{body}"') from None


def _go_number(text: str) -> int | float:
    clean = text.replace("_", "")
    try:
        if re.match(r"[-+]?0[xXbBoO]", clean):
            return int(clean, 0)
        return float(clean) if re.search(r"[.eE]", clean) else int(clean)
    except ValueError:
        raise _GoError(f"bad number {text}") from None


def to_jinja(text: str) -> str:
    """The template with its Go spellings turned into Jinja; Jinja syntax passes through untouched."""
    return _Translator(text).run()


# -- the functions translated templates call ----------------------------------------------------------


class _Missing:
    """A key that is not there: false in a condition, as in Go."""

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""


_MISSING = _Missing()


def _field(base: Any, root: bool, *keys: str, optional: bool = False) -> Any:
    import jinja2

    value = base
    for depth, key in enumerate(keys):
        if value is _MISSING or value is None:
            if optional:
                return _MISSING
            raise jinja2.UndefinedError(f"nil has no key {key!r} (in .{'.'.join(keys[: depth + 1])})")
        if not isinstance(value, Mapping):
            raise jinja2.TemplateRuntimeError(
                f"can't evaluate field {key} in type {_go_type(value)} (.{'.'.join(keys[: depth + 1])})"
            )
        if key not in value:
            if optional:
                return _MISSING
            if root and depth == 0:
                raise jinja2.UndefinedError(f"'{key}' is undefined")
            raise jinja2.UndefinedError(f"no key '{key}' in .{'.'.join(keys[:depth]) or key}")
        value = value[key]
    return value


def _go_field(base: Any, root: bool, *keys: str) -> Any:
    return _field(base, root, *keys)


def _go_opt(base: Any, root: bool, *keys: str) -> Any:
    return _field(base, root, *keys, optional=True)


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return "<nil>" if value is None else type(value).__name__


def _go_items(value: Any) -> Any:
    if isinstance(value, Mapping):
        return [value[key] for key in sorted(value)]
    if isinstance(value, bool) or value is None or value is _MISSING:
        return [] if not value else _bad_range(value)
    if isinstance(value, int):
        return range(value)
    if isinstance(value, list | tuple):
        return value
    return _bad_range(value)


def _go_pairs(value: Any) -> Any:
    if isinstance(value, Mapping):
        return sorted(value.items())
    return list(enumerate(_go_items(value)))


def _bad_range(value: Any) -> Any:
    raise ValueError(f"range can't iterate over {_go_text(value)}")


def _go_len(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, Mapping | list | tuple):
        return len(value)
    raise ValueError(f"len of type {_go_type(value)}")


def _go_index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list | tuple | str):
            if isinstance(key, bool) or not isinstance(key, int):
                raise ValueError(f"cannot index slice/array with type {_go_type(key)}")
            if not 0 <= key < len(value):
                raise ValueError(f"index out of range: {key}")
            value = value.encode()[key] if isinstance(value, str) else value[key]
        else:
            raise ValueError(f"can't index item of type {_go_type(value)}")
    return value


def _go_slice(value: Any, *bounds: int) -> Any:
    if not isinstance(value, str | list | tuple) or len(bounds) > 2:
        raise ValueError(f"can't slice item of type {_go_type(value)}")
    start = bounds[0] if bounds else 0
    end = bounds[1] if len(bounds) > 1 else len(value)
    if not 0 <= start <= end <= len(value):
        raise ValueError(f"slice bounds out of range [{start}:{end}]")
    return value[start:end]


def _compare(name: str, a: Any, b: Any) -> bool:
    a, b = (None if v is _MISSING else v for v in (a, b))
    if name == "eq":
        return bool(a == b)
    if name == "ne":
        return bool(a != b)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
    if not numbers and not (isinstance(a, str) and isinstance(b, str)):
        raise ValueError(f"incompatible types for comparison: {_go_type(a)} and {_go_type(b)}")
    return {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[name]


def _go_eq(a: Any, *others: Any) -> bool:
    return any(_compare("eq", a, b) for b in others)


def _go_ne(a: Any, b: Any) -> bool:
    return _compare("ne", a, b)


def _go_lt(a: Any, b: Any) -> bool:
    return _compare("lt", a, b)


def _go_le(a: Any, b: Any) -> bool:
    return _compare("le", a, b)


def _go_gt(a: Any, b: Any) -> bool:
    return _compare("gt", a, b)


def _go_ge(a: Any, b: Any) -> bool:
    return _compare("ge", a, b)


def _json(value: Any) -> str:
    """Maps and lists print as StackQL prints them: Go's json.Marshal (compact, keys sorted, <>& escaped)."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def _float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))  # Go writes 1e+06; SQL wants the number as people write it
    return repr(value)


def _go_text(value: Any, nil: str = "<nil>") -> str:
    """Go's %v of a value as StackQL holds it."""
    if value is _MISSING:
        return "<no value>"
    if value is None:
        return nil
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Mapping | list | tuple):
        return _json(value)
    return str(value)


def _go_print(value: Any) -> Any:
    """What {{ pipeline }} writes. A null is nothing (Go writes <nil>); the value is then placed as usual."""
    if value is _MISSING:
        return None
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, bool | int):
        return value
    return _go_text(value)


def _sprint(args: tuple[Any, ...]) -> str:
    out = ""
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out += " "
        out += _go_text(arg)
    return out


def _go_print_fn(*args: Any) -> str:
    return _sprint(args)


def _go_println(*args: Any) -> str:
    return " ".join(_go_text(a) for a in args) + "\n"


def _go_html(*args: Any) -> str:
    text = _sprint(args)
    for char, escaped in (
        ("&", "&amp;"),
        ("'", "&#39;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&#34;"),
        ("\0", "\ufffd"),
    ):
        text = text.replace(char, escaped)
    return text


def _go_js(*args: Any) -> str:
    out = []
    for char in _sprint(args):
        if char in "\\'\"":
            out.append("\\" + char)
        elif char in "<>&=" or ord(char) < 0x20:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)


def _go_urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_sprint(args))


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?([a-zA-Z%])")


def _go_printf(fmt: Any, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs templates use: v s d q t f e g x X o b c and %%."""
    if not isinstance(fmt, str):
        raise ValueError("printf needs a format string first")
    out: list[str] = []
    used = 0
    position = 0
    for match in _VERB.finditer(fmt):
        out.append(fmt[position : match.start()])
        position = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[used]
        used += 1
        out.append(_pad(_verb(verb, arg, flags, precision), flags, width, verb, arg))
    out.append(fmt[position:])
    if used < len(args):
        extra = ", ".join(f"{_go_type(a)}={_go_text(a)}" for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _verb(verb: str, arg: Any, flags: str, precision: str | None) -> str:
    number = isinstance(arg, int | float) and not isinstance(arg, bool)
    integral = (
        isinstance(arg, int) and not isinstance(arg, bool) or isinstance(arg, float) and arg.is_integer()
    )
    if verb in "vs":
        text = _go_text(arg)
        return text[: int(precision)] if precision and verb == "s" else text
    if verb == "t" and isinstance(arg, bool):
        return _go_text(arg)
    if verb == "q":
        if isinstance(arg, int) and not isinstance(arg, bool):
            return "'" + _quote(chr(arg), "'") + "'"
        return '"' + _quote(_go_text(arg), '"') + '"'
    if verb in "dxXobc" and integral:
        value = int(arg)
        if verb == "c":
            return chr(value)
        spec = {"d": "d", "x": "x", "X": "X", "o": "o", "b": "b"}[verb]
        sign = "+" if "+" in flags else (" " if " " in flags else "-")
        prefix = "#" if "#" in flags and verb in "xXob" else ""
        return format(value, f"{sign}{prefix}{spec}")
    if verb in "xX" and isinstance(arg, str):
        text = arg.encode().hex()
        return text.upper() if verb == "X" else text
    if verb in "feEgG" and number:
        sign = "+" if "+" in flags else (" " if " " in flags else "-")
        if verb in "gG" and precision is None:
            text = _float(float(arg)) if verb == "g" else _float(float(arg)).upper()
            return ("+" + text) if sign == "+" and float(arg) >= 0 else text
        digits = 6 if precision is None else int(precision or 0)
        text = format(float(arg), f"{sign}.{digits}{verb}")
        return re.sub(r"e([-+])(\d)$", r"e\g<1>0\2", text) if verb in "eE" else text
    return f"%!{verb}({_go_type(arg)}={_go_text(arg)})"


def _pad(text: str, flags: str, width: str | None, verb: str, arg: Any) -> str:
    if not width or len(text) >= int(width):
        return text
    size = int(width)
    if "-" in flags:
        return text.ljust(size)
    numeric = verb in "dxXobfeEgG" and isinstance(arg, int | float) and not isinstance(arg, bool)
    if "0" in flags and numeric:
        sign = text[0] if text[:1] in "+- " else ""
        return sign + text[len(sign) :].rjust(size - len(sign), "0")
    return text.rjust(size)


def _quote(text: str, quote: str) -> str:
    """Go's strconv.Quote body: printable characters as they are, the rest escaped."""
    out = []
    for char in text:
        if char == quote or char == "\\":
            out.append("\\" + char)
        elif char in "\a\b\f\n\r\t\v":
            out.append(
                {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[
                    char
                ]
            )
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


HELPERS: dict[str, Any] = {
    "_go_field": _go_field,
    "_go_opt": _go_opt,
    "_go_items": _go_items,
    "_go_pairs": _go_pairs,
    "_go_print": _go_print,
    "_go_len": _go_len,
    "_go_index": _go_index,
    "_go_slice": _go_slice,
    "_go_eq": _go_eq,
    "_go_ne": _go_ne,
    "_go_lt": _go_lt,
    "_go_le": _go_le,
    "_go_gt": _go_gt,
    "_go_ge": _go_ge,
    "_go_printf": _go_printf,
    "_go_print_fn": _go_print_fn,
    "_go_println": _go_println,
    "_go_html": _go_html,
    "_go_js": _go_js,
    "_go_urlquery": _go_urlquery,
}
