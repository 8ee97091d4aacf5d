"""StackQL's Go-template spellings rewritten as Jinja before rendering, with every line kept in place.

Handled: ``{{ .x }}``, ``{{ $.x }}``, ``{{ . }}`` inside range, ``{{ range .xs }}``, ``{{ range $i, $x := .xs }}``,
``{{ if COND }}``, ``{{ else if COND }}``, ``{{ else }}``, ``{{ end }}``, ``{{ $v := .x }}``, ``{{/* comment */}}``,
and in conditions the functions not, and, or, eq, ne, lt, le, gt, ge, len, index. Anything else in ``{{ }}`` is
left alone for Jinja.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from skyql.errors import SqlError

_TAG = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.DOTALL)
_ARG = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\S+')
_NUMBER = re.compile(r"-?\d+(\.\d+)?\Z")
_FIELD = re.compile(r"(\.[A-Za-z_]\w*)+\Z")
_VARIABLE = re.compile(r"\$([A-Za-z_]\w*)?((?:\.[A-Za-z_]\w*)*)\Z")
_ASSIGN = re.compile(r"\$([A-Za-z_]\w*)\s*:?=\s*(.+)\Z", re.DOTALL)
_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_FUNCTIONS = {*_COMPARE, "not", "and", "or", "len", "index"}

# Jinja names the renderer provides for translated templates (see template.py).
ITEMS_FILTER = "_go_items"  # range over a list, or a map's values in key order
PAIRS_FILTER = "_go_pairs"  # (index, item) or (key, value)
VALUE_FUNCTION = "_go_value"  # a missing variable is false in a Go condition, not an error


@dataclass
class _Block:
    kind: str  # "range" or "if"
    line: int
    dot: str | None  # the Jinja expression `.` stands for inside this block; None at the top level


class _Translator:
    def __init__(self, text: str) -> None:
        self.text = text
        self.blocks: list[_Block] = []
        self.counter = 0
        self.line = 1

    @property
    def dot(self) -> str | None:
        return self.blocks[-1].dot if self.blocks else None

    def run(self) -> str:
        out = _TAG.sub(self._tag, self.text)
        if self.blocks:
            block = self.blocks[-1]
            raise SqlError(
                f"template line {block.line}: {{{{ {block.kind} }}}} has no matching {{{{ end }}}}"
            )
        return out

    def _tag(self, match: re.Match[str]) -> str:
        left, body, right = match.groups()
        self.line = self.text.count("\n", 0, match.start()) + 1
        content = body.strip()
        translated = self._translate(content)
        if translated is None:
            return match.group(0)
        kind, jinja = translated
        newlines = "\n" * body.count("\n")  # keep line numbers identical for error messages
        if kind == "comment":
            return "{#" + left + newlines + right + "#}"
        if kind == "statement":
            return "{%" + left + " " + jinja + newlines + " " + right + "%}"
        return "{{" + left + " " + jinja + newlines + " " + right + "}}"

    def _translate(self, content: str) -> tuple[str, str] | None:
        if content.startswith("/*") and content.endswith("*/"):
            return "comment", ""
        head, rest = (content.split(None, 1) + [""])[:2]
        rest = rest.strip()
        if head == "range" and rest[:1] in (".", "$"):
            return "statement", self._range(rest)
        if head == "if" and rest:
            jinja = f"if {self._expr(rest, condition=True)}"
            self.blocks.append(_Block("if", self.line, self.dot))
            return "statement", jinja
        if head == "else" and self.blocks:
            return "statement", self._else(rest)
        if content == "end" and self.blocks:
            block = self.blocks.pop()
            return "statement", "endfor" if block.kind == "range" else "endif"
        assign = _ASSIGN.match(content)
        if assign:
            return "statement", f"set _v_{assign.group(1)} = {self._expr(assign.group(2))}"
        if content[:1] in (".", "$") or (head in _FUNCTIONS and rest):
            return "expression", self._expr(content)
        return None

    def _range(self, rest: str) -> str:
        names: list[str] = []
        if ":=" in rest:
            declared, _, rest = rest.partition(":=")
            names = [n.strip() for n in declared.split(",")]
            if not 1 <= len(names) <= 2 or not all(re.fullmatch(r"\$[A-Za-z_]\w*", n) for n in names):
                raise self._unsupported(f"range {declared}:= {rest}")
        source = self._expr(rest.strip())
        if len(names) == 2:
            index, item = (f"_v_{n[1:]}" for n in names)
            loop = f"for {index}, {item} in ({source})|{PAIRS_FILTER}"
        else:
            self.counter += 1
            item = f"_v_{names[0][1:]}" if names else f"_go_item{self.counter}"
            loop = f"for {item} in ({source})|{ITEMS_FILTER}"
        self.blocks.append(_Block("range", self.line, item))
        return loop

    def _else(self, rest: str) -> str:
        if not rest:
            return "else"
        head, condition = (rest.split(None, 1) + [""])[:2]
        if head != "if" or self.blocks[-1].kind != "if":
            raise self._unsupported(f"else {rest}")
        return f"elif {self._expr(condition.strip(), condition=True)}"

    def _expr(self, text: str, condition: bool = False) -> str:
        args = _ARG.findall(text)
        if not args or "|" in args or any(a.startswith("(") for a in args):
            raise self._unsupported(text)
        if len(args) == 1:
            return self._operand(args[0], condition)
        fn, operands = args[0], [self._operand(a, condition) for a in args[1:]]
        if fn in _COMPARE and len(operands) == 2:
            return f"({operands[0]} {_COMPARE[fn]} {operands[1]})"
        if fn == "eq" and len(operands) > 2:
            return f"({operands[0]} in [{', '.join(operands[1:])}])"
        if fn == "not" and len(operands) == 1:
            return f"(not {operands[0]})"
        if fn in ("and", "or"):
            return "(" + f" {fn} ".join(operands) + ")"
        if fn == "len" and len(operands) == 1:
            return f"({operands[0]}|length)"
        if fn == "index" and len(operands) >= 2:
            return operands[0] + "".join(f"[{key}]" for key in operands[1:])
        raise self._unsupported(text)

    def _operand(self, arg: str, condition: bool) -> str:
        if arg == ".":
            if self.dot is None:
                raise SqlError(
                    f"template line {self.line}: {{{{ . }}}} is only meaningful inside range; "
                    "name the variable, e.g. {{ .project }}"
                )
            return self.dot
        if _FIELD.match(arg):
            return self._path(self.dot, arg[1:].split("."), condition)
        variable = _VARIABLE.match(arg)
        if variable:
            name, path = variable.groups()
            if name is None:  # $ is the top-level data
                if not path:
                    raise self._unsupported(arg)
                return self._path(None, path[1:].split("."), condition)
            return f"_v_{name}{path}"
        if arg.startswith('"') or _NUMBER.match(arg):
            return arg
        if arg.startswith("`"):
            return json.dumps(arg[1:-1])
        if arg in ("true", "false"):
            return arg
        if arg == "nil":
            return "none"
        raise self._unsupported(arg)

    def _path(self, base: str | None, parts: list[str], condition: bool) -> str:
        if base is not None:
            return ".".join([base, *parts])
        head = f"{VALUE_FUNCTION}({parts[0]})" if condition else parts[0]
        return ".".join([head, *parts[1:]])

    def _unsupported(self, text: str) -> SqlError:
        return SqlError(
            f"template line {self.line}: cannot translate the Go template expression {{{{ {text} }}}}; "
            "write it in Jinja syntax instead, e.g. {% if region == 'us-central1' %} ... {% endif %}"
        )


def to_jinja(text: str) -> str:
    """The template with its Go spellings turned into Jinja; Jinja syntax passes through untouched."""
    return _Translator(text).run()
