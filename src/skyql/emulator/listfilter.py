"""The `filter` of list methods: the AIP-160 subset Google's APIs accept (=, !=, <, >, :, AND, OR, NOT)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from skyql.emulator.fields import camel
from skyql.emulator.status import bad_request

Predicate = Callable[[dict[str, Any]], bool]
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op><=|>=|!=|[=<>:()])|(?P<word>[^\s=<>:()!"\']+))'
)
_OPS = ("=", "!=", "<", "<=", ">", ">=", ":")


def parse_filter(text: str) -> Predicate:
    """Compile a filter expression; a 400 INVALID_ARGUMENT when it does not parse."""
    tokens = _tokenize(text)
    parser = _Parser(tokens, text)
    pred = parser.expression()
    if parser.pos != len(tokens):
        raise _invalid(text, f"unexpected {tokens[parser.pos][1]!r}")
    return pred


def _invalid(text: str, why: str) -> Exception:
    return bad_request(f"Invalid filter {text!r}: {why}.", field="filter")


def _tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _invalid(text, f"cannot read {text[pos:].strip()[:20]!r}")
        kind = m.lastgroup or "word"
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _invalid(self.text, "unexpected end")
        self.pos += 1
        return tok

    def expression(self) -> Predicate:
        # AIP-160: OR binds tighter than AND; juxtaposition means AND.
        parts = [self.factor()]
        while (tok := self.peek()) is not None and tok != ("op", ")"):
            if tok == ("word", "AND"):
                self.pos += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda item: all(p(item) for p in parts))

    def factor(self) -> Predicate:
        parts = [self.term()]
        while self.peek() == ("word", "OR"):
            self.pos += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda item: any(p(item) for p in parts))

    def term(self) -> Predicate:
        tok = self.peek()
        if tok in (("word", "NOT"), ("word", "-")):
            self.pos += 1
            inner = self.term()
            return lambda item: not inner(item)
        if tok == ("op", "("):
            self.pos += 1
            inner = self.expression()
            if self.take() != ("op", ")"):
                raise _invalid(self.text, "unbalanced parentheses")
            return inner
        kind, member = self.take()
        if kind != "word":
            raise _invalid(self.text, f"expected a field name, got {member!r}")
        op_tok = self.peek()
        if op_tok is None or op_tok[0] != "op" or op_tok[1] not in _OPS:
            raise _invalid(self.text, f"expected a comparison after {member!r}")
        self.pos += 1
        kind, arg = self.take()
        if kind == "op":
            raise _invalid(self.text, f"expected a value after {member}{op_tok[1]}")
        return _comparison(member, op_tok[1], arg)


def _lookup(item: Any, parts: list[str]) -> list[Any]:
    """Every value at a dotted path; arrays fan out."""
    values = [item]
    for part in parts:
        nxt: list[Any] = []
        for v in values:
            v_items = v if isinstance(v, list) else [v]
            for x in v_items:
                if isinstance(x, dict):
                    key = part if part in x else camel(part)
                    if key in x:
                        nxt.append(x[key])
        values = nxt
    flat: list[Any] = []
    for v in values:
        flat.extend(v if isinstance(v, list) else [v])
    return flat


def _comparison(member: str, op: str, arg: str) -> Predicate:
    parts = member.split(".")

    def test(value: Any) -> bool:
        if op == ":":
            if isinstance(value, dict):
                return arg == "*" or arg in value
            return arg == "*" or _equal(value, arg)
        if op in ("=", "!="):
            return _equal(value, arg) == (op == "=")
        left, right = _ordered(value, arg)
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]

    def pred(item: dict[str, Any]) -> bool:
        values = _lookup(item, parts)
        if not values:
            return op == "!="
        if op == "!=":
            return all(test(v) for v in values)
        return any(test(v) for v in values)

    return pred


def _equal(value: Any, arg: str) -> bool:
    if isinstance(value, bool):
        return str(value).lower() == arg.lower()
    if isinstance(value, (int, float)):
        try:
            return float(value) == float(arg)
        except ValueError:
            return False
    text = str(value)
    return fnmatch.fnmatchcase(text, arg) if "*" in arg else text == arg


def _ordered(value: Any, arg: str) -> tuple[Any, Any]:
    try:
        return float(value), float(arg)
    except (TypeError, ValueError):
        return str(value), arg
