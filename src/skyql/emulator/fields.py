"""Field paths against schemas: `fields` partial responses, `updateMask` patches, request-body checks."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from skyql.emulator.status import bad_request
from skyql.emulator.store import dumps
from skyql.registry import Service

FieldTree = dict[str, "FieldTree | None"]  # None: the whole value
_NAME = re.compile(r"[A-Za-z0-9_*.@$-]+")
_INT_STRING = re.compile(r"-?\d+")


def camel(name: str) -> str:
    """display_name -> displayName (Google's JSON parser accepts the proto field names too)."""
    if "_" not in name:
        return name
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def parse_fields(expr: str) -> FieldTree:
    """Parse the `fields` system parameter: `nextPageToken,jobs(jobId,state),a/b`."""
    tree, pos = _parse_list(expr.replace(" ", ""), 0)
    if pos != len(expr.replace(" ", "")):
        raise bad_request(
            f"Invalid field selection {expr!r}: unexpected {expr.replace(' ', '')[pos]!r}.", field="fields"
        )
    return tree


def _parse_list(s: str, pos: int) -> tuple[FieldTree, int]:
    tree: FieldTree = {}
    while True:
        parts: list[str] = []
        while True:
            m = _NAME.match(s, pos)
            if m is None:
                raise bad_request(
                    f"Invalid field selection {s!r}: a field name is missing at {pos}.", field="fields"
                )
            parts += [p for p in m.group(0).split(".") if p]
            pos = m.end()
            if pos < len(s) and s[pos] == "/":
                pos += 1
                continue
            break
        sub: FieldTree | None = None
        if pos < len(s) and s[pos] == "(":
            sub, pos = _parse_list(s, pos + 1)
            if pos >= len(s) or s[pos] != ")":
                raise bad_request(f"Invalid field selection {s!r}: unbalanced parentheses.", field="fields")
            pos += 1
        if parts:
            _merge(tree, parts, sub)
        if pos < len(s) and s[pos] == ",":
            pos += 1
            continue
        return tree, pos


def _merge(tree: FieldTree, parts: list[str], sub: FieldTree | None) -> None:
    head, rest = parts[0], parts[1:]
    if head in tree and tree[head] is None:
        return  # the whole value is already selected
    if not rest and sub is None:
        tree[head] = None
        return
    node = tree.setdefault(head, {})
    assert node is not None
    if rest:
        _merge(node, rest, sub)
    else:
        for key, value in (sub or {}).items():
            _merge(node, [key], value)


def select(value: Any, tree: FieldTree | None) -> Any:
    """Keep only the selected fields of a JSON value (arrays: of each element)."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [select(v, tree) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key == "*":
            for k, v in value.items():
                out[k] = select(v, sub)
            continue
        name = key if key in value else camel(key)
        if name in value:
            out[name] = select(value[name], sub)
    return out


class MaskCache:
    """Items masked by a field tree, remembered: a stored item is immutable bytes, so it is its own key."""

    MASKS = 16  # field trees remembered (the oldest is forgotten first)
    ITEMS = 1_000_000  # items remembered per tree

    def __init__(self) -> None:
        self._done: dict[str, dict[bytes, bytes]] = {}

    def apply(self, raws: list[bytes], tree: FieldTree) -> list[bytes]:
        key = json.dumps(tree, sort_keys=True)
        done = self._done.get(key)
        if done is None:
            if len(self._done) >= self.MASKS:
                del self._done[next(iter(self._done))]
            done = self._done[key] = {}
        out = []
        for raw in raws:
            masked = done.get(raw)
            if masked is None:
                if len(done) >= self.ITEMS:
                    done.clear()  # a long-lived emulator whose items keep changing
                masked = done[raw] = dumps(select(json.loads(raw), tree))
            out.append(masked)
        return out


def check_fields(service: Service, schema: dict[str, Any], tree: FieldTree, where: str = "") -> None:
    """A 400 for a selected field the response schema does not have, as Google answers."""
    schema = _object_schema(service, schema)
    props = schema.get("properties")
    if props is None or "additionalProperties" in schema:
        return
    for key, sub in tree.items():
        if key == "*":
            continue
        name = key if key in props else camel(key)
        if name not in props:
            raise bad_request(f"Invalid field selection {where}{key}", field="fields")
        if sub is not None:
            check_fields(service, props[name], sub, f"{where}{key}.")


def _object_schema(service: Service, schema: dict[str, Any]) -> dict[str, Any]:
    schema = service.resolve(schema)
    while schema.get("type") == "array":
        schema = service.resolve(schema.get("items", {}))
    return schema


def mask_paths(mask: str) -> list[str]:
    return [p.strip() for p in mask.split(",") if p.strip()]


def schema_at(service: Service, schema: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The schema of a dotted field path (`trainingInput.scaleTier`, `labels.team`), or None if absent."""
    node = service.resolve(schema)
    for part in path.split("."):
        if "additionalProperties" in node and "properties" not in node:
            node = service.resolve(node["additionalProperties"])
            continue
        props = node.get("properties", {})
        name = part if part in props else camel(part)
        if name not in props:
            return None
        node = service.resolve(props[name])
    return node


def apply_mask(target: dict[str, Any], patch: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """Copy of `target` with each masked path taken from `patch` (absent there: cleared)."""
    out = copy.deepcopy(target)
    for path in paths:
        parts = [camel(p) for p in path.split(".")]
        src: Any = patch
        for p in parts:
            src = src.get(p) if isinstance(src, dict) else None
            if src is None:
                break
        dst = out
        for p in parts[:-1]:
            nxt = dst.get(p)
            if not isinstance(nxt, dict):
                nxt = dst[p] = {}
            dst = nxt
        if src is None:
            dst.pop(parts[-1], None)
        else:
            dst[parts[-1]] = copy.deepcopy(src)
    return out


def validate_body(service: Service, schema: dict[str, Any], body: Any, where: str) -> Any:
    """Check a request body against its schema as Google's JSON parser does; return it with camelCase keys."""
    schema = service.resolve(schema)
    if "enum" in schema:
        if not isinstance(body, str) or body not in schema["enum"]:
            raise bad_request(
                f"Invalid value at '{where}', {body!r}: not one of the enum values.", field=where
            )
        return body
    kind = schema.get("type")
    if "properties" in schema or (kind == "object" and "additionalProperties" not in schema):
        if not isinstance(body, dict):
            raise bad_request(f"Invalid value at '{where}': expected an object.", field=where)
        props = schema.get("properties", {})
        if not props:
            return body
        out = {}
        for key, value in body.items():
            name = key if key in props else camel(key)
            if name not in props:
                raise bad_request(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field.",
                    field=f"{where}.{key}",
                )
            out[name] = (
                None if value is None else validate_body(service, props[name], value, f"{where}.{name}")
            )
        return out
    if "additionalProperties" in schema:
        if not isinstance(body, dict):
            raise bad_request(f"Invalid value at '{where}': expected a map.", field=where)
        return {
            k: validate_body(service, schema["additionalProperties"], v, f"{where}[{k}]")
            for k, v in body.items()
        }
    if kind == "array":
        if not isinstance(body, list):
            raise bad_request(f"Invalid value at '{where}': expected a list.", field=where)
        return [
            validate_body(service, schema.get("items", {}), v, f"{where}[{i}]") for i, v in enumerate(body)
        ]
    if kind == "string":
        if schema.get("format") in ("int64", "uint64", "int32", "uint32"):
            ok = (isinstance(body, int) and not isinstance(body, bool)) or (
                isinstance(body, str) and _INT_STRING.fullmatch(body)
            )
        elif schema.get("format") in ("double", "float"):
            ok = isinstance(body, (int, float, str)) and not isinstance(body, bool)
        else:
            ok = isinstance(body, str)
        if not ok:
            raise bad_request(
                f"Invalid value at '{where}' ({schema.get('format', 'string')}), {body!r}", field=where
            )
    elif kind == "integer" and not (
        (isinstance(body, int) and not isinstance(body, bool))
        or (isinstance(body, str) and _INT_STRING.fullmatch(body))
    ):
        raise bad_request(f"Invalid value at '{where}' (integer), {body!r}", field=where)
    elif kind == "number" and (isinstance(body, bool) or not isinstance(body, (int, float, str))):
        raise bad_request(f"Invalid value at '{where}' (number), {body!r}", field=where)
    elif kind == "boolean" and not isinstance(body, bool):
        raise bad_request(f"Invalid value at '{where}' (bool), {body!r}", field=where)
    return body
