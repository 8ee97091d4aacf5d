"""The provider model: provider > service > resource > method, plus the schemas columns come from."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from skyql.registry.naming import snake_case

# StackQL's `{parentType}/{parent}`: `parent = 'projects/p'` alone gives both (fetch splits it).
PARENT, PARENT_TYPE = "parent", "parentType"
# StackQL's type words, as DESCRIBE shows them.
TYPE_WORDS = ("string", "integer", "number", "boolean", "object", "array")


@dataclass(frozen=True)
class Param:
    """A path or query parameter of a method."""

    name: str  # the flatPath name (projectsId) or the query name (pageSize)
    location: str  # "path" or "query"
    required: bool
    type: str = "string"  # a StackQL type word
    description: str = ""
    repeated: bool = False
    # True for a `{+name}` path parameter with no flatPath: its value may hold '/'.
    reserved: bool = False


@dataclass(frozen=True)
class Column:
    """A column of a resource: a property of the method's row schema."""

    name: str
    type: str  # a StackQL type word
    description: str = ""
    format: str | None = None  # discovery format: int64, google-datetime, double, ...
    schema: dict | None = None  # the property's (resolved) schema, for nested types


@dataclass
class Method:
    """One API method, as SQL sees it."""

    name: str  # snake_case: get, list, _list, cancel, get_iam_policy
    discovery_id: str  # aiplatform.projects.locations.hyperparameterTuningJobs.list
    http_method: str
    path: str  # flat path template relative to the service base URL, e.g. v1/projects/{projectsId}/jobs
    params: tuple[Param, ...]
    sql_verb: str  # SELECT, INSERT, DELETE, UPDATE, REPLACE, EXEC
    description: str = ""
    request_schema: str | None = None
    response_schema: str | None = None
    object_key: str | None = None  # "$.jobs": where the rows of a response are
    paging: bool = False  # follows nextPageToken
    returns_operation: bool = False  # the response is a long-running Operation
    raw: bool = False  # the EXEC-only `_list` twin of a paging list: returns raw pages
    # compute's aggregatedList: rows are in `items.<scope>.<scoped_key>` (items is a map keyed by zone/region)
    scoped_key: str | None = None
    # (where, name) pairs, "query" or "body": any one sent makes a second copy of this POST harmless
    # (the new object's own id, or a documented requestId); decided at build time (registry/idempotency.py).
    idempotency_keys: tuple[tuple[str, str], ...] = ()

    @property
    def required_params(self) -> list[str]:
        return sorted(p.name for p in self.params if p.required)

    def fits(self, given: Collection[str]) -> bool:
        """All required parameters are in `given`; `parent = 'projects/p'` gives `parentType` too."""
        return not self.missing(given)

    def missing(self, given: Collection[str]) -> list[str]:
        have = set(given)
        if PARENT in have:
            have.add(PARENT_TYPE)
        return [p for p in self.required_params if p not in have]

    @property
    def path_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "path"]

    @property
    def query_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "query"]

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None


@dataclass
class Resource:
    """A SQL-addressable resource: google.aiplatform.hyperparameter_tuning_jobs."""

    name: str  # hyperparameter_tuning_jobs
    service: Service = field(repr=False)
    collection: str  # discovery collection path: projects.locations.hyperparameterTuningJobs
    methods: dict[str, Method] = field(default_factory=dict)
    description: str = ""
    # Per SQL verb, its methods in the order StackQL tries them: the first whose required parameters
    # the statement gives is the one called (logging's sinks: project, organization, folder, ...).
    order: dict[str, list[str]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.service.provider}.{self.service.name}.{self.name}"

    def methods_for(self, verb: str) -> list[Method]:
        """The methods serving `verb`, in the order they are tried."""
        ranked = {name: i for i, name in enumerate(self.order.get(verb, ()))}
        chosen = [m for m in self.methods.values() if m.sql_verb == verb]
        return sorted(chosen, key=lambda m: (ranked.get(m.name, len(ranked)), m.name))

    def first_fit(self, verb: str, given: Collection[str]) -> Method | None:
        """StackQL's choice: the first method for `verb` whose required parameters are all in `given`."""
        for method in self.methods_for(verb):
            if not method.raw and method.fits(given):
                return method
        return None

    def find_method(self, name: str) -> Method | None:
        """A method by StackQL's name, or by a spelling StackQL users and Python users know: camelCase
        (`attachDisk`), the discovery method alone where StackQL prefixes it with its collection (ml's
        `jobs.cancel` for `projects_jobs_cancel`, when only one method of the resource is so named), or an
        IAM method StackQL put on the base resource (`buckets.setIamPolicy`, in `buckets_iam_policies`)."""
        iam = self.service.resources.get(f"{self.name}_iam_policies")
        for candidate in dict.fromkeys((name, snake_case(name))):
            for res in (self, iam):
                if res is None:
                    continue
                if candidate in res.methods:
                    return res.methods[candidate]
                short = res._short_names().get(candidate)
                if short is not None:
                    return short
        return None

    def _short_names(self) -> dict[str, Method]:
        """`cancel` -> `projects_jobs_cancel`: a prefixed method by its discovery name, when unambiguous."""
        found: dict[str, list[Method]] = {}
        for method in self.methods.values():
            raw = "_" if method.raw else ""
            short = raw + snake_case(method.discovery_id.rsplit(".", 1)[-1])
            if short != method.name:
                found.setdefault(short, []).append(method)
        return {short: ms[0] for short, ms in found.items() if len(ms) == 1 and short not in self.methods}

    @property
    def row_method(self) -> Method | None:
        """The method whose rows define the columns: list first, then get, then any SELECT."""
        selects = [m for m in self.methods_for("SELECT") if not m.raw]
        # StackQL's names of a method may carry its collection: `projects_sinks_list`.
        for pref in ("list", "aggregated_list", "get", "get_iam_policy"):
            for m in selects:
                if m.name == pref or m.name.endswith("_" + pref):
                    return m
        return selects[0] if selects else None

    def columns(self, method: Method | None = None) -> list[Column]:
        """The columns rows of this resource have (of `method`, else of the row method)."""
        method = method or self.row_method
        if method is None:
            return []
        return self.service.row_columns(method)

    def id_sources(self) -> dict[str, tuple[str, ...]]:
        """How a listed row tells its path parameters: param -> ("name", regex, group) or ("column", name).

        A list fills only the parameters it was called with; `jobsId IN (...)` after a list needs the rest,
        which a row carries in its resource `name` (matched against the get method's URL template) or in a
        `<singular>Id` field (ml's `jobId` for `jobsId`).
        """
        # StackQL's name may carry the collection (`projects_jobs_get`): the first get in its order.
        get = next((m for m in self.methods_for("SELECT") if m.discovery_id.endswith(".get")), None)
        if get is None:
            return {}
        columns = {c.name for c in self.columns()}
        template = re.sub(r"^v\d[^/]*/", "", get.path)
        sources: dict[str, tuple[str, ...]] = {}
        if "name" in columns and "{" in template:
            parts = re.split(r"({[^}]+})", template)
            regex = "".join("([^/]+)" if p.startswith("{") else re.escape(p) for p in parts if p)
            for i, name in enumerate(p[1:-1] for p in parts if p.startswith("{")):
                sources[name] = ("name", f"{regex}$", str(i + 1))
        for p in get.path_params:
            singular = p.name.removesuffix("Id").removesuffix("s") + "Id"
            if p.name not in sources and singular in columns:
                sources[p.name] = ("column", singular)
        return sources

    @property
    def param_names(self) -> list[str]:
        """Every parameter name of the SELECT methods, in a stable order: they become columns."""
        seen: dict[str, None] = {}
        for m in self.methods_for("SELECT"):
            for p in m.path_params:
                seen.setdefault(p.name, None)
        return list(seen)


# The prefixes of compute's regional, global and zonal collections that StackQL once had as resources of their own.
OLD_PREFIXES = ("global_", "region_", "zone_")


@dataclass
class Service:
    """One Google API at one version, e.g. aiplatform v1."""

    name: str  # aiplatform
    provider: str  # google
    version: str  # v1
    title: str = ""
    description: str = ""
    root_url: str = ""  # https://aiplatform.googleapis.com/
    service_path: str = ""  # appended to root_url; method paths are relative to both
    endpoints: dict[str, str] = field(default_factory=dict)  # location -> regional root URL
    resources: dict[str, Resource] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _aliases: dict[str, Resource | None] = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def base_url(self) -> str:
        return self.root_url + self.service_path

    def alias(self, name: str) -> Resource | None:
        """An older StackQL name of a collection now merged into another resource, as that collection's
        methods alone: `compute.global_addresses` (today inside `addresses`), `region_disks`, `zone_operations`.

        StackQL's earlier Google providers had a resource per compute collection; users' notebooks still
        name them. Not listed by SHOW RESOURCES: the merged resource is the name to use."""
        if name not in self._aliases:
            self._aliases[name] = self._merged_collection(name) if name.startswith(OLD_PREFIXES) else None
        return self._aliases[name]

    def _merged_collection(self, name: str) -> Resource | None:
        for res in self.resources.values():
            methods = {
                k: m
                for k, m in res.methods.items()
                if snake_case(".".join(m.discovery_id.split(".")[1:-1])) == name
            }
            if methods and len(methods) < len(res.methods):
                collection = ".".join(next(iter(methods.values())).discovery_id.split(".")[1:-1])
                order = {verb: [n for n in names if n in methods] for verb, names in res.order.items()}
                return Resource(
                    name=name,
                    service=self,
                    collection=collection,
                    methods=methods,
                    description=res.description,
                    order={v: n for v, n in order.items() if n},
                )
        return None

    def schema(self, ref: str | None) -> dict[str, Any]:
        """The named schema, or {} when unknown."""
        return self.schemas.get(ref or "", {})

    def resolve(self, prop: dict[str, Any]) -> dict[str, Any]:
        """Follow a `$ref` (the referenced schema), else the property itself."""
        return self.schema(prop["$ref"]) if "$ref" in prop else prop

    def row_schema(self, method: Method) -> dict[str, Any]:
        """The schema of one row of `method`'s result: the object_key item, else the response."""
        schema = self.schema(method.response_schema)
        if method.scoped_key and not method.raw:
            scoped = self.resolve(
                schema.get("properties", {}).get("items", {}).get("additionalProperties", {})
            )
            return self.resolve(scoped.get("properties", {}).get(method.scoped_key, {}).get("items", {}))
        if method.object_key and not method.raw:
            key = method.object_key.removeprefix("$.")
            prop = schema.get("properties", {}).get(key, {})
            item = prop.get("items", prop)
            return self.resolve(item)
        return schema

    def row_columns(self, method: Method) -> list[Column]:
        schema = self.row_schema(method)
        cols = []
        for name, prop in schema.get("properties", {}).items():
            resolved = self.resolve(prop)
            cols.append(
                Column(
                    name=name,
                    type=type_word(resolved),
                    # As StackQL: a $ref column is described by the referenced schema.
                    description=resolved.get("description", "")
                    if "$ref" in prop
                    else prop.get("description", ""),
                    format=resolved.get("format"),
                    schema=resolved,
                )
            )
        return cols


def type_word(schema: dict[str, Any]) -> str:
    """StackQL's type word for a (resolved) discovery schema."""
    t = schema.get("type")
    if t == "array":
        return "array"
    if t == "object" or "properties" in schema or "additionalProperties" in schema:
        return "object"
    if t == "string" and schema.get("format") in ("int64", "uint64", "int32", "uint32"):
        # Discovery sends 64-bit integers as JSON strings; SQL sees them as integers.
        return "integer"
    if t in TYPE_WORDS:
        return t
    if t == "any":
        return "object"
    return "string"
