"""What to offer at the cursor: a pure function of the text and the registry, testable without a terminal.

suggest("SELECT st", "SELECT st FROM google.ml.jobs") -> [Suggestion("state", -2, "column", "string"), ...]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from skyql.registry import Method, Resource
from skyql.shell.catalog import Catalog, Name
from skyql.shell.commands import COMMANDS, Command
from skyql.shell.tokens import OPEN, Token, current_statement, significant, tokenize


@dataclass(frozen=True)
class Suggestion:
    """One completion: `text` replaces the `-start` characters before the cursor."""

    text: str
    start: int
    kind: str  # keyword function command provider service resource method column parameter field value
    meta: str = ""


STATEMENT_KEYWORDS = (
    "SELECT",
    "WITH",
    "SHOW",
    "DESCRIBE",
    "EXEC",
    "INSERT",
    "UPDATE",
    "REPLACE",
    "DELETE",
    "REGISTRY",
)
KEYWORDS = (
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "LIKE",
    "ILIKE",
    "BETWEEN",
    "AS",
    "DISTINCT",
    "JOIN",
    "LEFT",
    "RIGHT",
    "INNER",
    "OUTER",
    "FULL",
    "CROSS",
    "ON",
    "USING",
    "GROUP",
    "ORDER",
    "BY",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "ASC",
    "DESC",
    "UNION",
    "ALL",
    "EXCEPT",
    "INTERSECT",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "INTO",
    "VALUES",
    "SET",
    "RETURNING",
    "TRUE",
    "FALSE",
    "PROVIDERS",
    "SERVICES",
    "RESOURCES",
    "METHODS",
    "METHOD",
    "EXTENDED",
    "LIST",
    "PULL",
    "OVER",
    "PARTITION",
) + STATEMENT_KEYWORDS
FUNCTIONS = (
    "json_extract",
    "json_each",
    "json_array_length",
    "json_group_array",
    "json_object",
    "split_part",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "coalesce",
    "lower",
    "upper",
    "length",
    "substr",
    "cast",
    "round",
    "strftime",
    "row_number",
)
_KEYWORD_SET = frozenset(KEYWORDS)
# Inside an expression only a subquery starts a statement.
_EXPRESSION_KEYWORDS = tuple(k for k in KEYWORDS if k not in STATEMENT_KEYWORDS) + ("SELECT",)
# After these a provider resource name comes.
NAME_AFTER = frozenset(
    {"FROM", "JOIN", "INTO", "UPDATE", "DESCRIBE", "EXTENDED", "METHOD", "REPLACE", "EXEC", "IN", "TABLE"}
)
# After these an expression comes: columns, parameters, functions.
EXPRESSION_AFTER = frozenset(
    {
        "SELECT",
        "WHERE",
        "AND",
        "OR",
        "ON",
        "BY",
        "HAVING",
        "NOT",
        "DISTINCT",
        "WHEN",
        "THEN",
        "ELSE",
        "CASE",
        "RETURNING",
        "SET",
        "BETWEEN",
        "LIKE",
        "IS",
    }
)
_EXPRESSION_PUNCT = frozenset("(,=<>!+-*/|%")
_SHOW_NEXT = {
    "SHOW": ("PROVIDERS", "SERVICES", "RESOURCES", "METHODS", "EXTENDED", "INSERT"),
    "EXTENDED": ("SERVICES", "RESOURCES", "METHODS"),
    "SERVICES": ("IN",),
    "RESOURCES": ("IN",),
    "METHODS": ("IN",),
    "INSERT": ("INTO",),
}


@cache
def _default_catalog() -> Catalog:
    from skyql.registry import Registry

    return Catalog(Registry())


def suggest(text_before_cursor: str, full_text: str, catalog: Catalog | None = None) -> list[Suggestion]:
    """Completions for the cursor at the end of `text_before_cursor` (a prefix of `full_text`)."""
    catalog = catalog or _default_catalog()
    cursor = len(text_before_cursor)
    statement, offset = current_statement(full_text, cursor)
    before = full_text[offset:cursor]
    tokens = tokenize(before)
    if tokens and (tokens[-1].kind in OPEN or tokens[-1].text.startswith("--")):
        return []  # inside a string or a comment
    if offset == 0:
        command = _command_of(before)
        if command is not None:
            return _command_suggestions(before, command, catalog)
    partial, prev = _split_partial(tokens)
    if partial is None:
        return []
    return _Context(catalog, statement, prev, partial).suggestions()


def _split_partial(tokens: list[Token]) -> tuple[str | None, list[Token]]:
    """The word being typed ('' for none) and the significant tokens before it; None: nothing fits here."""
    if not tokens:
        return "", []
    last = tokens[-1]
    if last.kind in ("word", "var"):
        return last.text, significant(tokens[:-1])
    if last.kind == "space" or (last.kind == "punct" and last.text in _EXPRESSION_PUNCT):
        return "", significant(tokens)
    return None, []


class _Context:
    """One statement with the cursor at its end: decides what kind of name fits there."""

    def __init__(self, catalog: Catalog, statement: str, prev: list[Token], partial: str) -> None:
        self.catalog = catalog
        self.statement = statement
        self.prev = prev
        self.partial = partial
        self.verb = prev[0].text.upper() if prev and prev[0].kind == "word" else ""
        self.upper = not (partial[:1].islower())

    def suggestions(self) -> list[Suggestion]:
        prev, partial = self.prev, self.partial
        if not prev:
            return self.keywords(STATEMENT_KEYWORDS)
        if self.verb == "EXEC" and (partial.startswith("@") or self._exec_method() is not None):
            return self.exec_params()
        if "." in partial:
            return self.dotted()
        last = prev[-1]
        word = last.text.upper() if last.kind == "word" else ""
        if self.verb == "SHOW" and word in _SHOW_NEXT:
            return self.keywords(_SHOW_NEXT[word])
        if word in NAME_AFTER and not (word == "IN" and self.verb not in ("SHOW", "")):
            if word == "DESCRIBE":
                return self.keywords(("EXTENDED", "METHOD")) + self.names(partial)
            return self.names(partial)
        clause = self._clause()
        if last.text == "," and clause in ("FROM", "JOIN"):
            return self.names(partial)
        if self.verb == "INSERT" and self._in_insert_columns():
            return self.insert_columns()
        if clause == "SET" and self.verb in ("UPDATE", "REPLACE") and (word == "SET" or last.text == ","):
            return self.body_fields(self.verb)
        if word in EXPRESSION_AFTER or (last.kind == "punct" and last.text in _EXPRESSION_PUNCT):
            return self.expression()
        return self.keywords(KEYWORDS)

    # -- what the statement already says ---------------------------------------------------------------
    def _clause(self) -> str:
        return self._clause_of(_KEYWORD_SET)

    def _clause_of(self, words: Iterable[str]) -> str:
        """The last of `words` before the cursor ('' for none)."""
        wanted = frozenset(words)
        for token in reversed(self.prev):
            if token.kind == "word" and token.text.upper() in wanted:
                return token.text.upper()
        return ""

    def references(self) -> list[tuple[Resource, str | None]]:
        """Resources the statement names, with their aliases."""
        found = []
        tokens = significant(tokenize(self.statement))
        for i, token in enumerate(tokens):
            if token.kind != "word" or token.text.count(".") < 2:
                continue
            parts = token.text.rstrip(".").split(".")
            if len(parts) < 3 or not self.catalog.is_provider(parts[0]):
                continue
            res = self.catalog.resource(".".join(parts[:3]))
            if res is None:
                continue
            after = tokens[i + 1 : i + 3]
            alias = None
            if after and after[0].kind == "word" and after[0].text.upper() == "AS" and len(after) > 1:
                alias = after[1].text
            elif after and after[0].kind == "word" and after[0].text.upper() not in _KEYWORD_SET:
                alias = after[0].text
            found.append((res, alias))
        return found

    def _exec_method(self) -> tuple[Resource, Method] | None:
        for token in self.prev[1:]:
            if token.kind == "word" and token.text.count(".") == 3:
                parts = token.text.split(".")
                res = self.catalog.resource(".".join(parts[:3]))
                method = res.find_method(parts[3]) if res is not None else None
                if method is not None:
                    return res, method
        return None

    def _in_insert_columns(self) -> bool:
        depth, seen_name = 0, False
        for token in self.prev:
            if token.kind == "word" and token.text.count(".") >= 2:
                seen_name = True
            elif seen_name and token.text == "(":
                depth += 1
            elif seen_name and token.text == ")":
                depth -= 1
                if depth == 0:
                    return False
        return seen_name and depth == 1

    # -- suggestion lists -------------------------------------------------------------------------------
    def keywords(self, words: Iterable[str], start: int | None = None) -> list[Suggestion]:
        partial = self.partial.upper()
        start = -len(self.partial) if start is None else start
        return [
            Suggestion(w if self.upper else w.lower(), start, "keyword")
            for w in words
            if w.startswith(partial)
        ]

    def names(self, partial: str) -> list[Suggestion]:
        """Provider, service or resource names for a dotted name being typed."""
        if "." in partial:
            return self.dotted()
        return _match(self.catalog.providers(), partial, "provider")

    def dotted(self) -> list[Suggestion]:
        head, _, last = self.partial.rpartition(".")
        parts = head.split(".")
        if self.catalog.is_provider(parts[0]):
            if len(parts) == 1:
                return _match(self.catalog.services(parts[0]), last, "service")
            if len(parts) == 2:
                return _match(self.catalog.resources(parts[0], parts[1]), last, "resource")
            if len(parts) == 3 and self._wants_method():
                res = self.catalog.resource(head)
                if res is not None:
                    return _match(_methods(res), last, "method")
            return []
        if len(parts) == 1:
            for res, alias in self.references():
                if parts[0] in (alias, res.name):
                    return _match(_columns(res), last, "column")
        return []

    def _wants_method(self) -> bool:
        if self.verb == "EXEC":
            return True
        return self.verb == "DESCRIBE" and any(t.text.upper() == "METHOD" for t in self.prev)

    def exec_params(self) -> list[Suggestion]:
        found = self._exec_method()
        if found is None:
            return self.names(self.partial) if not self.partial.startswith("@") else []
        if self.prev and self.prev[-1].text == "=":
            return []  # a value goes here
        res, method = found
        given = {t.text.lstrip("@") for t in self.prev if t.kind == "var"}
        names = [
            Name("@" + p.name, "required" if p.required else p.location)
            for p in sorted(method.params, key=lambda p: not p.required)
            if p.name not in given
        ]
        if method.request_schema and "json" not in given:
            names.append(Name("@@json", "request body (JSON)"))
        typed = self.partial if self.partial.startswith("@") else "@" + self.partial
        hits = _match(names, typed, "parameter")
        return [Suggestion(s.text, -len(self.partial), s.kind, s.meta) for s in hits]

    def expression(self) -> list[Suggestion]:
        names: dict[str, Name] = {}
        for res, _alias in self.references():
            for name in _columns(res):
                names.setdefault(name.name, name)
        ordered = list(names.values())
        if self._clause_of(("SELECT", "WHERE", "ON", "HAVING", "BY", "SET")) == "WHERE":
            # Required parameters are what a WHERE needs first.
            ordered.sort(key=lambda n: n.meta != "parameter")
        out = _match(ordered, self.partial, "column", substring=False)
        out += _match([Name(f, "function") for f in FUNCTIONS], self.partial, "function", substring=False)
        return out + self.keywords(_EXPRESSION_KEYWORDS)

    def insert_columns(self) -> list[Suggestion]:
        names: list[Name] = []
        for res, _alias in self.references()[:1]:
            for method in res.methods_for("INSERT")[:1]:
                names = [Name(p.name, "required" if p.required else "parameter") for p in method.params]
                names += _body_fields(res, method.request_schema)
        return _match(names, self.partial, "column")

    def body_fields(self, verb: str) -> list[Suggestion]:
        names: list[Name] = []
        for res, _alias in self.references()[:1]:
            for method in res.methods_for(verb)[:1]:
                names = _body_fields(res, method.request_schema)
        return _match(names, self.partial, "field")


def _columns(res: Resource) -> list[Name]:
    params = [Name(p, "parameter") for p in res.param_names]
    taken = {p.name for p in params}
    return [Name(c.name, c.type) for c in res.columns() if c.name not in taken] + params


def _methods(res: Resource) -> list[Name]:
    return [Name(m.name, m.sql_verb) for m in res.methods.values()]


def _body_fields(res: Resource, schema_name: str | None) -> list[Name]:
    props = res.service.schema(schema_name).get("properties", {})
    return [Name("data__" + name, "request body") for name in props]


def _match(names: Iterable[Name], partial: str, kind: str, *, substring: bool = True) -> list[Suggestion]:
    """Names that start with `partial` (any case), then names that contain it (from 3 letters on)."""
    low = partial.lower()
    prefix, inner = [], []
    for n in names:
        name = n.name.lower()
        if name.startswith(low):
            prefix.append(n)
        elif substring and len(low) >= 3 and low in name:
            inner.append(n)
    return [Suggestion(n.name, -len(partial), kind, n.meta) for n in prefix + inner]


def _command_of(before: str) -> Command | str | None:
    """The meta-command being typed at the start of the input: a Command, or its partial name."""
    stripped = before.lstrip()
    if not stripped:
        return None
    head, sep, _ = stripped.partition(" ")
    name = head.rstrip("+")
    if not sep:
        if head.startswith("\\") or any(c.startswith(head.lower()) for c in COMMANDS if c[0] != "\\"):
            return head
        return None
    return COMMANDS.get(name) or COMMANDS.get(name.lower())


def _command_suggestions(before: str, command: Command | str, catalog: Catalog) -> list[Suggestion]:
    if isinstance(command, str):
        # Still typing the command's own name: commands, and statement keywords for a plain word.
        hits = [
            Suggestion(name, -len(command), "command", c.description)
            for name, c in COMMANDS.items()
            if name.startswith(command.lower() if name[0] != "\\" else command)
        ]
        if not command.startswith("\\"):
            upper = not command[:1].islower()
            hits += [
                Suggestion(w if upper else w.lower(), -len(command), "keyword")
                for w in STATEMENT_KEYWORDS
                if w.startswith(command.upper())
            ]
        return hits
    arg = before.lstrip().partition(" ")[2]
    if " " in arg.strip() or (arg.endswith(" ") and arg.strip()):
        return []  # every command takes one argument at most
    partial = arg.strip()
    if command.completes in ("resource", "service"):
        depth = 3 if command.completes == "resource" else 2
        if partial.count(".") >= depth:
            return []
        return _Context(catalog, partial, [], partial).names(partial)
    return _match([Name(v) for v in command.choices], partial, "value")
