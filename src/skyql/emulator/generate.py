"""Deterministic data from discovery schemas: enums, formats, resource names, nested objects, maps."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from skyql.registry import Service
from skyql.registry.naming import snake_case

# Seeded data is anchored to a fixed instant so that a seed gives the same bytes on any day.
ANCHOR = datetime(2025, 1, 1, tzinfo=UTC)
MAX_DEPTH = 2  # nested objects below the item: two levels, then only scalars
NESTED_PROPS = 5  # properties kept per nested object, so an item stays near 1 KB
KEY_FIELDS = ("id", "state")
TEAMS = ("research", "platform", "ads", "search", "infra")
ENVS = ("prod", "dev", "staging")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED", "DONE", "COMPLETED", "DELETED", "TERMINATED")
_FORMAT_REF = re.compile(r"`((?:projects|organizations|folders|billingAccounts)/[^`\s]*\{[^`\s]*)`")
_PLACEHOLDER = re.compile(r"\{([^}]+)\}")
_KIND = re.compile(r"\b([a-z]+#[A-Za-z]+)\b")


def rfc3339(t: datetime) -> str:
    """Google's timestamp form: UTC with a `Z` and microseconds."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_unspecified(value: str) -> bool:
    return "UNSPECIFIED" in value or value == "UNKNOWN"


def useful_enum(values: list[str]) -> list[str]:
    return [v for v in values if not is_unspecified(v)] or values


def description_says_required(prop: dict[str, Any]) -> bool:
    return bool(re.match(r"\s*Required[.:]", prop.get("description", ""))) and not is_output_only(prop)


def is_output_only(prop: dict[str, Any]) -> bool:
    return bool(prop.get("readOnly")) or prop.get("description", "").lstrip().startswith("Output only")


@dataclass
class ItemContext:
    """What one generated item knows about itself while its fields are filled."""

    index: int
    item_id: str
    name: str
    project: str
    location: str
    singular: str
    service: str
    state_offset: int = 0
    state: str | None = None
    created: datetime = ANCHOR


class Generator:
    """Fills schemas of one service with plausible values; the caller's Random makes it deterministic."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._keys: dict[tuple[int, int], list[str]] = {}

    def item(
        self,
        schema: dict[str, Any],
        rng: Random,
        ctx: ItemContext,
        *,
        full_names: bool = True,
        id_field: str | None = None,
    ) -> dict[str, Any]:
        """A top-level item: identity fields from `ctx`, the rest generated."""
        ctx.created = ANCHOR - timedelta(seconds=rng.randint(3600, 365 * 86400))
        props = schema.get("properties", {})
        out: dict[str, Any] = {}
        # `state` first: times and errors depend on it.
        order = sorted(props, key=lambda k: k != "state")
        for key in order:
            prop = props[key]
            if key == "name" and prop.get("type") == "string":
                out[key] = ctx.name if full_names else ctx.item_id
            elif key == id_field:
                out[key] = ctx.item_id
            elif (
                key in ("error", "errorMessage")
                and not (ctx.state and "FAIL" in ctx.state)
                or key == "endTime"
                and ctx.state is not None
                and not ctx.state.endswith(TERMINAL)
            ):
                continue
            else:
                out[key] = self.value(key, prop, rng, ctx, 0)
                if key == "state" and isinstance(out[key], str):
                    ctx.state = out[key]
        return {k: out[k] for k in props if k in out}

    def instance(self, schema_name: str | None, rng: Random, ctx: ItemContext) -> dict[str, Any]:
        """A well-formed instance of a named schema (a custom method's response)."""
        schema = self.service.schema(schema_name)
        if not schema.get("properties"):
            return {}
        out = self.object(schema, rng, ctx, 0)
        # One generated page is the whole answer: a made-up token would name a next page that is this one again.
        out.pop("nextPageToken", None)
        return out

    def object(self, schema: dict[str, Any], rng: Random, ctx: ItemContext, depth: int) -> dict[str, Any]:
        props = schema.get("properties", {})
        out: dict[str, Any] = {}
        keys = self._keys.get((id(schema), depth))
        if keys is None:
            if depth == 0:
                keys = list(props)
            else:
                resolved = {k: self.service.resolve(p) for k, p in props.items()}
                scalars = [k for k, p in resolved.items() if not _is_container(p)]
                nested = [k for k, p in resolved.items() if _is_container(p)]
                candidates = scalars + (nested if depth < MAX_DEPTH else [])
                # Of the few fields kept, the ones users query first: Required ones, then id and state.
                kept = set(
                    sorted(
                        candidates,
                        key=lambda k: (not description_says_required(props[k]), k not in KEY_FIELDS),
                    )[:NESTED_PROPS]
                )
                keys = [k for k in candidates if k in kept]
            self._keys[(id(schema), depth)] = keys
        for key in keys:
            value = self.value(key, props[key], rng, ctx, depth)
            if value is not None:
                out[key] = value
        return out

    def value(self, key: str, prop: dict[str, Any], rng: Random, ctx: ItemContext, depth: int) -> Any:
        if "$ref" in prop:
            target = self.service.schema(prop["$ref"])
            if depth >= MAX_DEPTH:
                return None
            return self.object(target, rng, ctx, depth + 1)
        kind = prop.get("type")
        if kind == "string":
            return self.string(key, prop, rng, ctx, depth)
        if kind == "integer":
            return rng.randint(1, 1000)
        if kind == "number":
            return round(rng.uniform(0, 1000), 3)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "array":
            items = prop.get("items", {})
            resolved = self.service.resolve(items)
            if _is_container(resolved) and depth >= MAX_DEPTH:
                return None
            low = 1 if description_says_required(prop) else 0
            count = rng.randint(low, 2) if _is_container(resolved) else rng.randint(1, 3)
            values = [self.value(singular_key(key), items, rng, ctx, depth) for _ in range(count)]
            return [v for v in values if v is not None]
        if kind == "any":
            return f"{key}-{_hex(rng, 4)}"
        if "additionalProperties" in prop:
            return self.mapping(key, prop["additionalProperties"], rng, ctx, depth)
        if "properties" in prop:
            if depth >= MAX_DEPTH:
                return None
            return self.object(prop, rng, ctx, depth + 1)
        return None

    def mapping(self, key: str, values: dict[str, Any], rng: Random, ctx: ItemContext, depth: int) -> Any:
        if values.get("type") == "string" and "enum" not in values:
            if key == "labels":
                out = {"team": rng.choice(TEAMS)}
                if rng.random() < 0.7:
                    out["env"] = rng.choice(ENVS)
                return out
            return {f"key-{i}": f"value-{_hex(rng, 4)}" for i in range(rng.randint(1, 2))}
        if depth >= MAX_DEPTH and _is_container(self.service.resolve(values)):
            return {}
        out = {}
        for i in range(rng.randint(1, 2)):
            v = self.value(key, values, rng, ctx, depth)
            if v is not None:
                out[f"key-{i}"] = v
        return out

    def string(self, key: str, prop: dict[str, Any], rng: Random, ctx: ItemContext, depth: int) -> str:
        if "enum" in prop:
            values = useful_enum(prop["enum"])
            if key == "state" and depth == 0:
                # Spread states over items so that GROUP BY state has several groups.
                return values[(ctx.state_offset + ctx.index) % len(values)]
            return rng.choice(values)
        fmt = prop.get("format")
        if fmt in ("google-datetime", "date-time") or key.endswith("Timestamp") and not fmt:
            # compute's creationTimestamp and storage's timeCreated are RFC 3339 too.
            return rfc3339(self.time(key, rng, ctx))
        if key == "kind" and (kind := _KIND.search(prop.get("description", ""))):
            return kind.group(1)  # "Always compute#network for networks."
        if fmt == "google-duration":
            return f"{rng.randint(1, 86400)}s"
        if fmt in ("int64", "uint64"):
            return str(rng.randint(10**17, 9 * 10**18) if key in ("id", "uid") else rng.randint(0, 100_000))
        if fmt in ("int32", "uint32"):
            return str(rng.randint(0, 1000))
        if fmt == "byte":
            return base64.b64encode(rng.randbytes(8)).decode()
        if fmt == "date":
            return (ctx.created - timedelta(days=rng.randint(0, 30))).strftime("%Y-%m-%d")
        if fmt == "google-fieldmask":
            return "labels"
        if fmt in ("double", "float"):
            return str(round(rng.uniform(0, 1), 4))
        ref = _FORMAT_REF.search(prop.get("description", ""))
        if ref:
            return self.reference(ref.group(1), rng, ctx)
        return self.named_string(key, rng, ctx)

    def reference(self, template: str, rng: Random, ctx: ItemContext) -> str:
        """Fill a `Format: projects/{project}/...` template from the description."""

        def fill(m: re.Match[str]) -> str:
            word = m.group(1).lower()
            if word.startswith("project"):
                return ctx.project
            if word in ("location", "region", "location_id", "zone"):
                return ctx.location
            return f"{snake_case(m.group(1)).removesuffix('_id').replace('_', '-')}-{_hex(rng, 4)}"

        return _PLACEHOLDER.sub(fill, template.rstrip(".,;"))

    def named_string(self, key: str, rng: Random, ctx: ItemContext) -> str:
        low = key.lower()
        word = snake_case(ctx.singular).replace("_", "-")
        if low == "displayname":
            return f"{word}-{ctx.index}"
        if low == "etag":
            return base64.b64encode(rng.randbytes(8)).decode()
        if low in ("uid", "id"):
            h = rng.randbytes(16).hex()
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        if low == "selflink":
            return f"https://{ctx.service}.googleapis.com/{ctx.name}"
        if low.endswith("email") or low.endswith("serviceaccount"):
            return f"sa-{_hex(rng, 4)}@{ctx.project}.iam.gserviceaccount.com"
        if low.endswith(("uri", "uris", "path", "dir", "directory")):
            return f"gs://{ctx.project}-bucket/{word}/{_hex(rng, 6)}"
        if low in ("region", "location", "zone", "locationid"):
            return ctx.location
        if low in ("project", "projectid"):
            return ctx.project
        if low == "description":
            return f"Generated {word} {ctx.index}"
        if low.endswith("kmskeyname"):
            return (
                f"projects/{ctx.project}/locations/{ctx.location}/keyRings/ring/cryptoKeys/key-{_hex(rng, 4)}"
            )
        if low.endswith("version"):
            return f"{rng.randint(1, 3)}.{rng.randint(0, 20)}"
        return f"{snake_case(key).replace('_', '-')}-{_hex(rng, 6)}"

    def time(self, key: str, rng: Random, ctx: ItemContext) -> datetime:
        """Times that read in order: created < started < ended <= updated."""
        base = ctx.created
        low = key.lower()
        if low.startswith("create") or low in ("timecreated", "creationtimestamp"):
            return base
        if low.startswith("start"):
            return base + timedelta(seconds=60 + ctx.index % 600)
        if low.startswith("end") or low.startswith("complete"):
            return base + timedelta(seconds=3600 + ctx.index % 36000)
        if low.startswith("update"):
            return base + timedelta(seconds=40000 + ctx.index % 3600)
        return base + timedelta(seconds=rng.randint(0, 86400))


def singular_key(key: str) -> str:
    return key[:-1] if key.endswith("s") and len(key) > 1 else key


def _is_container(prop: dict[str, Any]) -> bool:
    return (
        prop.get("type") in ("object", "array")
        or "properties" in prop
        or "additionalProperties" in prop
        or "$ref" in prop
    )


def _hex(rng: Random, n: int) -> str:
    return rng.randbytes((n + 1) // 2).hex()[:n]
