"""Routes from the registry's URL templates: one router per service, built on its first use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from skyql.registry import Method, Service


def singular(plural: str) -> str:
    """hyperparameterTuningJobs -> hyperparameterTuningJob; policies -> policy; indexes -> index."""
    if plural.endswith("ies") and len(plural) > 3:
        return plural[:-3] + "y"
    if plural.endswith(("sses", "xes", "ches", "shes")):
        return plural[:-2]
    if plural.endswith("s") and not plural.endswith("ss"):
        return plural[:-1]
    return plural


@dataclass(frozen=True)
class Template:
    """A flat URL template split into segments: a literal, or None for a parameter."""

    text: str
    literals: tuple[str | None, ...]
    names: tuple[str, ...]
    verb: str | None
    prefix_len: int  # leading segments (the version, e.g. `v1`) that are not part of resource names
    regex: re.Pattern[str]

    @property
    def nsegs(self) -> int:
        return len(self.literals)

    @property
    def is_instance(self) -> bool:
        return self.literals[-1] is None

    @property
    def collection_key(self) -> str:
        """`projects/{}/locations/{}/hyperparameterTuningJobs`: the collection this template addresses."""
        lits = self.literals[self.prefix_len :]
        if self.is_instance:
            lits = lits[:-1]
        return "/".join("{}" if lit is None else lit for lit in lits)


def parse_template(text: str) -> Template:
    segs = text.split("/")
    verb = None
    last = segs[-1]
    if ":" in last:
        last, verb = last.rsplit(":", 1)
        segs[-1] = last
    literals: list[str | None] = []
    names: list[str] = []
    parts: list[str] = []
    for i, seg in enumerate(segs):
        is_last = i == len(segs) - 1
        if seg.startswith("{") and seg.endswith("}"):
            literals.append(None)
            names.append(seg[1:-1].lstrip("+"))
            # The last segment never holds ':' (it would be a custom verb), as in Google's HTTP rules.
            parts.append("([^/:]+)" if is_last else "([^/]+)")
        else:
            literals.append(seg)
            parts.append(re.escape(seg))
    pattern = "/".join(parts) + (":" + re.escape(verb) if verb else "")
    lead = 0
    while lead < len(literals) and literals[lead] is not None:
        lead += 1
    return Template(
        text=text,
        literals=tuple(literals),
        names=tuple(names),
        verb=verb,
        prefix_len=max(0, lead - 1),
        regex=re.compile(pattern),
    )


@dataclass
class CollectionSpec:
    """What the emulator knows of one collection of a service: its methods, item schema and naming."""

    key: str
    literal: str
    prefix: str
    list: Method | None = None
    get: Method | None = None
    create: Method | None = None
    item_schema: str | None = None  # the schema's name, when it has one
    schema: dict = field(default_factory=dict)  # the item schema itself
    items_key: str | None = None
    full_names: bool = True
    id_param: str | None = None
    id_field: str | None = None
    singular: str = ""
    is_operations: bool = False
    compute_operations: bool = False  # compute's Operation: `status` DONE instead of `done`
    # The item is known by the client-chosen `name` in the create body (compute's networks, storage's buckets):
    # the get path ends in `{network}`, not `{networksId}`, and the create path names no id.
    name_keyed: bool = False
    name_word: str = ""  # the get path's last parameter (`network`), for generated names
    # A root collection listed per project by a query parameter (storage's `b?project=`): items have an owner.
    owner_param: str | None = None
    # An aggregated list (`projects/{}/aggregated/instances`): the array key inside each scope's entry.
    aggregated: str | None = None
    regex: re.Pattern[str] | None = None

    def matches(self, path: str) -> bool:
        return bool(self.regex and self.regex.fullmatch(path))


@dataclass(frozen=True)
class Route:
    service: str
    method: Method
    template: Template
    action: (
        str  # list, get, create, create_at, delete, patch, update, custom, singleton_get, singleton_update
    )


@dataclass
class Match:
    route: Route
    values: dict[str, str]
    segments: list[str]  # the resource path: decoded segments after the version prefix, verb removed

    @property
    def resource_path(self) -> str:
        return "/".join(self.segments)

    @property
    def collection_path(self) -> str:
        return "/".join(self.segments[:-1] if self.route.template.is_instance else self.segments)

    @property
    def item_id(self) -> str | None:
        return self.segments[-1] if self.route.template.is_instance else None


def _action(method: Method, tpl: Template) -> str:
    short = method.discovery_id.rsplit(".", 1)[-1]
    if tpl.verb:
        return "custom"
    verb = method.http_method
    if tpl.is_instance:
        if short in ("create", "insert") and verb in ("PUT", "POST"):
            return "create_at"
        return {"GET": "get", "DELETE": "delete", "PATCH": "patch", "PUT": "update"}.get(verb, "custom")
    if verb == "GET":
        return "list" if (method.paging or method.object_key) else "singleton_get"
    if verb == "POST" and short in ("create", "insert"):
        return "create"
    if verb in ("PATCH", "PUT"):
        return "singleton_update"
    return "custom"


@dataclass
class ServiceRouter:
    """All routes of one service, bucketed by (HTTP verb, segment count) for a fast match."""

    service: Service
    routes: dict[tuple[str, int], list[Route]] = field(default_factory=dict)
    collections: dict[str, CollectionSpec] = field(default_factory=dict)

    @classmethod
    def build(cls, service: Service) -> ServiceRouter:
        router = cls(service)
        for res in service.resources.values():
            for method in res.methods.values():
                if method.raw:
                    continue
                tpl = parse_template(service.service_path + method.path)
                route = Route(service.name, method, tpl, _action(method, tpl))
                router.routes.setdefault((method.http_method, tpl.nsegs), []).append(route)
                router._note_collection(route)
        for bucket in router.routes.values():
            # More literal segments first: `jobs/batch` wins over `jobs/{jobsId}`.
            bucket.sort(key=lambda r: -sum(1 for lit in r.template.literals if lit is not None))
        for spec in router.collections.values():
            router._finish(spec)
        return router

    def _note_collection(self, route: Route) -> None:
        tpl = route.template
        key = tpl.collection_key
        if not key:
            return
        literal = key.rsplit("/", 1)[-1]
        if literal == "{}":
            return
        spec = self.collections.get(key)
        if spec is None:
            prefix = "/".join(lit or "" for lit in tpl.literals[: tpl.prefix_len])
            spec = self.collections[key] = CollectionSpec(key=key, literal=literal, prefix=prefix)
        if route.action == "list" and spec.list is None:
            spec.list = route.method
        elif route.action == "get" and spec.get is None:
            spec.get = route.method
            spec.full_names = tpl.names[-1] == f"{literal}Id"
            spec.name_word = tpl.names[-1]
        elif route.action in ("create", "create_at") and spec.create is None:
            spec.create = route.method

    def _finish(self, spec: CollectionSpec) -> None:
        svc = self.service
        if spec.list is not None:
            spec.items_key = (spec.list.object_key or "").removeprefix("$.") or None
            spec.schema = svc.row_schema(spec.list)
            spec.item_schema = _schema_name(svc, spec.list)
        if spec.item_schema is None and spec.get is not None:
            spec.item_schema = spec.get.response_schema
        if spec.item_schema is None and spec.create is not None:
            spec.item_schema = spec.create.request_schema
        spec.singular = singular(spec.literal)
        if not spec.schema:
            spec.schema = svc.schema(spec.item_schema)
        props = spec.schema.get("properties", {})
        spec.compute_operations = spec.literal == "operations" and is_compute_operation(spec.schema)
        spec.is_operations = spec.literal == "operations" and "done" in props or spec.compute_operations
        if spec.create is not None:
            # Only the parameter the registry knows names the new object: a create that takes another
            # resource's id (androidmanagement's projectId) makes a new object each time, as Google's does.
            spec.id_param = next(
                (
                    name
                    for where, name in spec.create.idempotency_keys
                    if where == "query" and name != "requestId"
                ),
                None,
            )
        if f"{spec.singular}Id" in props:
            spec.id_field = f"{spec.singular}Id"
        elif spec.get is None and spec.create is None:
            spec.full_names = "name" in props
        spec.name_keyed = (
            spec.get is not None
            and not spec.full_names
            and "name" in props
            and spec.id_param is None
            and spec.id_field is None
            and not spec.is_operations
        )
        if spec.list is not None and "{}" not in spec.key:
            owner = spec.list.param("project")
            if owner is not None and owner.location == "query" and owner.required:
                spec.owner_param = owner.name
        if spec.list is not None and spec.items_key is None and spec.key.split("/")[-2:-1] == ["aggregated"]:
            spec.aggregated = spec.list.scoped_key
        parts = ["[^/]+" if seg == "{}" else re.escape(seg) for seg in spec.key.split("/")]
        spec.regex = re.compile("/".join(parts))

    def match(self, http: str, path: str) -> Match | None:
        nsegs = path.count("/") + 1
        for route in self.routes.get((http, nsegs), ()):
            m = route.template.regex.fullmatch(path)
            if m is None:
                continue
            values = {name: unquote(v) for name, v in zip(route.template.names, m.groups(), strict=True)}
            segs = path.split("/")[route.template.prefix_len :]
            if route.template.verb:
                segs[-1] = segs[-1].rsplit(":", 1)[0]
            return Match(route, values, [unquote(s) for s in segs])
        return None

    def verbs_for(self, path: str) -> list[str]:
        """The HTTP verbs some route of this service answers on `path` (for a helpful 404)."""
        nsegs = path.count("/") + 1
        return sorted(
            {
                http
                for (http, n), routes in self.routes.items()
                if n == nsegs
                for r in routes
                if r.template.regex.fullmatch(path)
            }
        )

    def collection_for(self, path: str) -> CollectionSpec | None:
        """The collection spec whose key matches a concrete collection path (`projects/p/jobs`)."""
        nsegs = path.count("/") + 1
        for spec in self.collections.values():
            if spec.key.count("/") + 1 == nsegs and spec.matches(path):
                return spec
        return None


def is_compute_operation(schema: dict) -> bool:
    """Compute's Operation: no `done`, but a `status` that ends DONE, a `selfLink` to poll and a `targetLink`."""
    return {"status", "selfLink", "targetLink", "operationType"} <= schema.get("properties", {}).keys()


def _schema_name(svc: Service, method: Method) -> str | None:
    """The name of a list method's row schema, or None when the rows are inline objects (BigQuery's)."""
    if not method.object_key:
        return method.response_schema
    key = method.object_key.removeprefix("$.")
    prop = svc.schema(method.response_schema).get("properties", {}).get(key, {})
    return prop.get("items", prop).get("$ref")
