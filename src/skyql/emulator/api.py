"""What each API call does to the in-memory state: list, get, create, patch, delete, custom methods, IAM."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random
from typing import Any

from skyql.emulator.fields import (
    FieldTree,
    MaskCache,
    apply_mask,
    check_fields,
    mask_paths,
    parse_fields,
    schema_at,
    select,
    validate_body,
)
from skyql.emulator.generate import (
    TERMINAL,
    Generator,
    ItemContext,
    description_says_required,
    is_output_only,
    rfc3339,
    useful_enum,
)
from skyql.emulator.listfilter import parse_filter
from skyql.emulator.resolve import ServiceIndex
from skyql.emulator.routing import CollectionSpec, Match, ServiceRouter
from skyql.emulator.status import GoogleError, bad_request, not_found
from skyql.emulator.store import Collection, Operation, Store, dumps, page_token, read_page_token
from skyql.errors import NotFoundError, did_you_mean
from skyql.registry import Method, Registry
from skyql.registry.naming import snake_case

DEFAULT_PROJECT = "demo-project"
# Where the default population lives: projects/demo-project/<kind>/<place>.
PLACES = {
    "locations": ("us-central1", "europe-west4", "asia-east1"),
    "regions": ("us-central1", "europe-west4", "asia-east1"),
    "zones": ("us-central1-a", "europe-west4-a", "asia-east1-a"),
}
SYSTEM_PARAMS = {
    "fields", "key", "alt", "prettyPrint", "quotaUser", "$.xgafv", "access_token", "callback",
    "upload_protocol", "uploadType", "oauth_token", "userIp", "requestReason",
}
PAGE_SIZE_PARAMS = ("pageSize", "maxResults", "maxPageSize", "limit")
INITIAL_STATES = ("QUEUED", "PENDING", "CREATING", "PROVISIONING", "INITIALIZING", "STARTING", "PREPARING")
READY_STATES = ("ACTIVE", "ENABLED", "READY", "RUNNING", "AVAILABLE")
# Custom verbs that move a resource's state enum, to the first value that ends with one of these words.
VERB_STATES = {
    "cancel": ("CANCELLING", "CANCELLED"),
    "pause": ("PAUSED",),
    "resume": ("RUNNING", "ACTIVE", "ENABLED"),
    "start": ("RUNNING", "STARTING", "ACTIVE"),
    "stop": ("STOPPED", "STOPPING"),
    "suspend": ("SUSPENDED",),
    "enable": ("ENABLED", "ACTIVE"),
    "disable": ("DISABLED",),
}
_VERSION = re.compile(r"^(.*?)(V\d+(?:p\d+)?(?:alpha|beta)?\d*)_*(.*)$")
_CAMEL_WORDS = re.compile(r"[A-Z][a-z0-9]*")


@dataclass
class Config:
    seed: int = 0
    rows: int = 5
    page_size_cap: int = 50
    operation_polls: int = 2
    project: str = DEFAULT_PROJECT
    prefer: tuple[str, ...] = ("aiplatform", "ml")


@dataclass
class ApiRequest:
    method: str
    path: str  # without the leading '/' and the query
    query: dict[str, list[str]]
    body: bytes = b""
    host: str | None = None


@dataclass
class ApiResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def now() -> str:
    return rfc3339(datetime.now(UTC))


def type_url(schema_name: str | None) -> str:
    """GoogleCloudAiplatformV1HyperparameterTuningJob -> type.googleapis.com/google.cloud.aiplatform.v1.Hyper..."""
    if not schema_name:
        return "type.googleapis.com/google.protobuf.Empty"
    m = _VERSION.match(schema_name)
    if m and m.group(3):
        package = ".".join(w.lower() for w in _CAMEL_WORDS.findall(m.group(1)))
        return f"type.googleapis.com/{package}.{m.group(2).lower()}.{m.group(3)}"
    words = _CAMEL_WORDS.findall(schema_name)
    return "type.googleapis.com/" + ".".join([w.lower() for w in words[:-1]] + words[-1:])


def etag_of(obj: Any) -> str:
    return base64.b64encode(hashlib.sha1(dumps(obj)).digest()[:8]).decode()


def parse_json(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"Invalid JSON payload received. {exc}.") from None
    except RecursionError:
        raise bad_request("Invalid JSON payload received. The JSON is nested too deeply.") from None


class Api:
    """The API side of the emulator: one instance serves every service of the registry."""

    def __init__(self, registry: Registry, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.store = store or Store()
        self.index = ServiceIndex(registry, prefer=config.prefer)
        self.denied: set[str] = set()
        self._generators: dict[str, Generator] = {}
        self._op_counter = 1000 + Random(f"{config.seed}|ops").randrange(10**6) * 1000
        self._lock = threading.Lock()
        self._masks = MaskCache()
        # Answers of creates by requestId: a repeat is answered as the first was (AIP-155), not carried out.
        self._by_request_id: dict[tuple[str, str, str], dict[str, Any]] = {}

    # ----- entry point -------------------------------------------------------------------------------

    def handle(self, req: ApiRequest, op_error: GoogleError | None = None) -> ApiResponse:
        path = req.path.strip("/")
        if not path:
            raise not_found("The requested URL / was not found on this server.")
        match, verbs = self.index.resolve(req.method, req.host, path, self._holds_data)
        if match is None:
            if verbs:
                raise GoogleError(404, f"Method not found: {req.method} /{path} answers only "
                                       f"{', '.join(verbs)}.", "NOT_FOUND", reason="METHOD_NOT_FOUND")
            raise not_found(f"The requested URL /{path} was not found on this server.")
        self._check_denied(match)
        method = match.route.method
        self._check_query(method, req.query)
        tree = self._fields(match, req.query)
        if tree is not None and match.route.action == "list":
            spec = self._spec(match)
            if spec is not None and spec.items_key and not spec.is_operations:
                return ApiResponse(200, self.list(match, spec, req.query, tree))
        result = self._dispatch(match, req, op_error)
        if tree is not None:
            obj = json.loads(result) if isinstance(result, bytes) else result
            result = select(obj, tree)
        body = result if isinstance(result, bytes) else dumps(result)
        return ApiResponse(200, body)

    def _dispatch(self, match: Match, req: ApiRequest, op_error: GoogleError | None) -> dict[str, Any] | bytes:
        action = match.route.action
        method = match.route.method
        spec = self._spec(match)
        body = self._body(match, req) if method.request_schema else {}
        if spec is not None and spec.is_operations:
            return self._operation_call(match, action, spec)
        if action == "list" and spec is not None and spec.items_key:
            return self.list(match, spec, req.query)
        if action == "get" and spec is not None:
            return self.get(match, spec)
        if action in ("create", "create_at") and spec is not None:
            return self.create(match, spec, req.query, body, op_error)
        if action in ("patch", "update") and spec is not None:
            return self.update(match, spec, req.query, body, op_error)
        if action == "delete" and spec is not None:
            return self.delete(match, spec, op_error)
        if action == "singleton_get":
            return self.singleton(match)
        if action == "singleton_update":
            return self.singleton(match, body, req.query)
        return self.custom(match, spec, body, op_error)

    # ----- request checks ----------------------------------------------------------------------------

    def _check_denied(self, match: Match) -> None:
        segs = match.segments
        if len(segs) >= 2 and segs[0] == "projects" and segs[1] in self.denied:
            parts = match.route.method.discovery_id.split(".")
            permission = f"{parts[0]}.{parts[-2]}.{parts[-1]}" if len(parts) >= 3 else match.route.method.discovery_id
            raise GoogleError(
                403,
                f"Permission '{permission}' denied on resource '//{match.route.service}.googleapis.com/"
                f"{match.resource_path}' (or it may not exist).",
                "PERMISSION_DENIED",
                service=match.route.service,
            )

    def _check_query(self, method: Method, query: dict[str, list[str]]) -> None:
        params = {p.name: p for p in method.query_params}
        for name, values in query.items():
            if name in SYSTEM_PARAMS:
                if name == "alt" and values[-1] not in ("json", ""):
                    raise bad_request(f"alt={values[-1]} is not supported by this method.", field="alt")
                continue
            param = params.get(name)
            if param is None:
                raise bad_request(
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
                    f"Field '{name}' could not be found in request message.",
                    field=name,
                )
            if param.type == "integer":
                for v in values:
                    try:
                        int(v)
                    except ValueError:
                        raise bad_request(f"Invalid value at '{snake_case(name)}' (TYPE_INT32), \"{v}\"",
                                          field=name) from None
            elif param.type == "boolean" and any(v.lower() not in ("true", "false", "1", "0") for v in values):
                raise bad_request(f"Invalid value at '{snake_case(name)}' (TYPE_BOOL), \"{values[-1]}\"",
                                  field=name)

    def _fields(self, match: Match, query: dict[str, list[str]]) -> FieldTree | None:
        expr = (query.get("fields") or [""])[-1]
        if not expr:
            return None
        tree = parse_fields(expr)
        method = match.route.method
        svc = self.index.router(match.route.service).service
        check_fields(svc, svc.schema(method.response_schema), tree)
        return tree

    def _body(self, match: Match, req: ApiRequest) -> dict[str, Any]:
        data = parse_json(req.body)
        router = self.index.router(match.route.service)
        schema = router.service.schema(match.route.method.request_schema)
        return validate_body(router.service, schema, data, message_field(match.route.method.request_schema))

    def _holds_data(self, match: Match) -> bool:
        segs = match.segments
        parent = "/".join(segs[:-1]) if len(segs) > 1 else "/".join(segs)
        with self.store.lock:
            return self.store.holds_under(match.route.service, parent)

    def _spec(self, match: Match) -> CollectionSpec | None:
        return self.index.router(match.route.service).collections.get(match.route.template.collection_key)

    def generator(self, service: str) -> Generator:
        gen = self._generators.get(service)
        if gen is None:
            gen = self._generators[service] = Generator(self.index.router(service).service)
        return gen

    # ----- collections and the default population -------------------------------------------------------

    def collection(self, service: str, spec: CollectionSpec, path: str) -> Collection:
        """The collection at `path`, made on first touch (with the default rows under demo-project)."""
        with self.store.lock:
            coll = self.store.collection(service, path)
            if coll is None:
                coll = self.store.create_collection(service, path)
                if self._is_default_parent(service, path):
                    self.fill(service, spec, coll, self.config.rows)
            return coll

    def _is_default_parent(self, service: str, path: str) -> bool:
        segs = path.split("/")
        parent = segs[:-1]
        if len(parent) < 2 or parent[0] != "projects" or parent[1] != self.config.project:
            return False
        if len(parent) == 2:
            return True
        if len(parent) == 4 and parent[2] in PLACES:
            return parent[3] in PLACES[parent[2]]
        if len(parent) >= 4:
            parent_path = "/".join(parent[:-1])
            router = self.index.router(service)
            spec = router.collection_for(parent_path)
            if spec is None or spec.is_operations or not self._is_default_parent(service, parent_path):
                return False
            return parent[-1] in self.collection(service, spec, parent_path)
        return False

    def fill(self, service: str, spec: CollectionSpec, coll: Collection, count: int) -> None:
        """Add `count` generated items; deterministic for (seed, service, collection, items already there)."""
        rng = Random(f"{self.config.seed}|{service}|{coll.key}|{len(coll)}")
        segs = coll.key.split("/")
        project = segs[1] if len(segs) > 1 and segs[0] == "projects" else self.config.project
        location = segs[3] if len(segs) > 3 and segs[2] in PLACES else "us-central1"
        places = PLACES.get(spec.literal) if len(segs) == 3 else None
        if places:
            count = max(0, min(count, len(places) - len(coll)))
        gen = self.generator(service)
        state_offset = rng.randrange(97)
        variants: list[dict[str, Any]] = []
        # Large fills reuse a pool of generated bodies and vary only identity fields: 100k items in seconds.
        pool = 256 if count > 2000 else 0
        start = len(coll)
        for n in range(count):
            i = start + n
            item_id = places[i] if places and i < len(places) else self._new_id(spec, rng, coll)
            ctx = ItemContext(
                index=i, item_id=item_id, name=f"{coll.key}/{item_id}", project=project,
                location=item_id if places else location, singular=spec.singular, service=service,
                state_offset=state_offset,
            )
            if pool and len(variants) >= pool:
                obj = dict(variants[i % pool])
                if "name" in obj:
                    obj["name"] = ctx.name if spec.full_names else item_id
                if spec.id_field:
                    obj[spec.id_field] = item_id
                if "displayName" in obj:
                    obj["displayName"] = f"{snake_case(spec.singular).replace('_', '-')}-{i}"
            else:
                obj = gen.item(spec.schema, rng, ctx, full_names=spec.full_names, id_field=spec.id_field)
                if pool:
                    variants.append(obj)
            coll.put(item_id, obj)

    def _new_id(self, spec: CollectionSpec, rng: Random, coll: Collection) -> str:
        while True:
            if spec.id_param or spec.id_field:
                sep = "_" if spec.id_field else "-"
                word = snake_case(spec.singular).replace("_", sep)
                item_id = f"{word}{sep}{rng.randbytes(4).hex()}"
            else:
                item_id = str(rng.randrange(10**18, 9 * 10**18))
            if item_id not in coll:
                return item_id

    def spec_for(self, service: str, collection_path: str) -> CollectionSpec:
        """The collection spec of a concrete path (`projects/p/jobs`), or a NotFoundError naming the known ones."""
        router: ServiceRouter = self.index.router(service)
        spec = router.collection_for(collection_path.strip("/"))
        if spec is None:
            raise NotFoundError(
                f"{service} has no collection at {collection_path!r}"
                + did_you_mean(collection_path, router.collections)
                + "; collection paths look like 'projects/demo-project/jobs'"
            )
        return spec

    def populate(self, service: str, collection_path: str, count: int) -> int:
        path = collection_path.strip("/")
        spec = self.spec_for(service, path)
        with self.store.lock:
            coll = self.store.create_collection(service, path)
            self.fill(service, spec, coll, count)
            return len(coll)

    def add(self, service: str, collection_path: str, item: dict[str, Any]) -> dict[str, Any]:
        path = collection_path.strip("/")
        spec = self.spec_for(service, path)
        obj = dict(item)
        with self.store.lock:
            coll = self.collection(service, spec, path)
            item_id = None
            if spec.id_field and obj.get(spec.id_field):
                item_id = str(obj[spec.id_field])
            elif isinstance(obj.get("name"), str) and obj["name"]:
                item_id = obj["name"].rsplit("/", 1)[-1]
            if item_id is None:
                item_id = self._new_id(spec, Random(f"{self.config.seed}|add|{path}|{len(coll)}"), coll)
            props = spec.schema.get("properties", {})
            if "name" in props and not obj.get("name"):
                obj["name"] = f"{path}/{item_id}" if spec.full_names else item_id
            if spec.id_field:
                obj.setdefault(spec.id_field, item_id)
            coll.put(item_id, obj)
        return obj

    # ----- standard methods ----------------------------------------------------------------------------

    def list(self, match: Match, spec: CollectionSpec, query: dict[str, list[str]],
             tree: FieldTree | None = None) -> bytes:
        """One page as bytes; with a `fields` tree, each item masked once and remembered (a page costs a join)."""
        service = match.route.service
        coll = self.collection(service, spec, match.collection_path)
        size = self._page_size(match.route.method, query)
        flt = (query.get("filter") or [""])[-1].strip()
        scope = f"{service}|{coll.key}|{flt}"
        with self.store.lock:
            if flt:
                pred = parse_filter(flt)
                ids = [item_id for item_id, obj in coll.objects() if pred(obj)]
            else:
                ids = coll.ids
            token = (query.get("pageToken") or [""])[-1]
            offset = read_page_token(token, scope, ids) if token else 0
            chunk = ids[offset: offset + size]
            raws = [coll.items[i] for i in chunk]
            more = offset + size < len(ids)
            next_token = page_token(scope, offset + len(chunk), chunk[-1]) if more and chunk else None
        items_key: str = spec.items_key  # type: ignore[assignment]
        if tree is not None:
            if items_key not in tree:
                raws = []
            elif tree[items_key] is not None:
                raws = self._masks.apply(raws, tree[items_key])  # type: ignore[arg-type]
            if "nextPageToken" not in tree:
                next_token = None
        if not raws:
            return b'{"nextPageToken":"' + next_token.encode() + b'"}' if next_token else b"{}"
        out = b'{"' + items_key.encode() + b'":[' + b",".join(raws) + b"]"
        if next_token:
            out += b',"nextPageToken":"' + next_token.encode() + b'"'
        return out + b"}"

    def _page_size(self, method: Method, query: dict[str, list[str]]) -> int:
        cap = self.config.page_size_cap
        for name in PAGE_SIZE_PARAMS:
            if name in query and method.param(name):
                size = int(query[name][-1])
                if size < 0:
                    raise bad_request(f"{snake_case(name)} must be positive, got {size}.", field=snake_case(name))
                return min(size, cap) if size else cap
        return cap

    def _item(self, match: Match, spec: CollectionSpec) -> tuple[Collection, bytes]:
        coll = self.collection(match.route.service, spec, match.collection_path)
        raw = coll.items.get(match.item_id or "")
        if raw is None:
            raise not_found(f'{spec.singular[:1].upper()}{spec.singular[1:]} "{match.resource_path}" was not found.')
        return coll, raw

    def get(self, match: Match, spec: CollectionSpec) -> bytes:
        return self._item(match, spec)[1]

    def create(self, match: Match, spec: CollectionSpec, query: dict[str, list[str]], body: dict[str, Any],
               op_error: GoogleError | None) -> dict[str, Any]:
        service = match.route.service
        method = match.route.method
        svc = self.index.router(service).service
        schema = svc.schema(method.request_schema) if method.request_schema else spec.schema
        props = schema.get("properties", {})
        coll_path = match.collection_path
        request_id = (query.get("requestId") or [""])[-1]
        once = (service, coll_path, request_id) if request_id and ("query", "requestId") in method.idempotency_keys \
            else None
        if once is not None and once in self._by_request_id:
            return self._by_request_id[once]
        coll = self.collection(service, spec, coll_path)
        item_id = match.item_id if match.route.action == "create_at" else None
        if item_id is None and spec.id_param:
            item_id = (query.get(spec.id_param) or [""])[-1] or None
            param = method.param(spec.id_param)
            if item_id is None and param is not None and (param.required or param.description.startswith("Required")):
                raise bad_request(f"{spec.id_param} is required.", field=snake_case(spec.id_param))
        if item_id is None and spec.id_field and body.get(spec.id_field) and (
                ("body", spec.id_field) in method.idempotency_keys):
            item_id = str(body[spec.id_field])
        if item_id is None and isinstance(body.get("name"), str) and body["name"].startswith(coll_path + "/"):
            item_id = body["name"].rsplit("/", 1)[-1]
        for key, prop in props.items():
            if description_says_required(prop) and key not in body and key != "name":
                if key == spec.id_field and item_id:
                    continue
                raise bad_request(f"Field '{key}' is required.", field=key)
        obj = {k: v for k, v in body.items() if not is_output_only(props.get(k, {}))}
        with self.store.lock:
            if item_id is None:
                item_id = self._new_id(spec, Random(f"{self.config.seed}|create|{coll_path}|{len(coll)}"), coll)
            name = f"{coll_path}/{item_id}"
            if item_id in coll:
                raise GoogleError(409, f'{spec.singular[:1].upper()}{spec.singular[1:]} "{name}" already exists.',
                                  "ALREADY_EXISTS")
            self._stamp_new(service, spec, obj, item_id, name)
            coll.put(item_id, obj)
        result = self._start_operation(match, "create", obj, spec.item_schema, op_error) \
            if method.returns_operation else obj
        if once is not None:
            self._by_request_id[once] = result
        return result

    def _stamp_new(self, service: str, spec: CollectionSpec, obj: dict[str, Any], item_id: str, name: str) -> None:
        """Set what the server sets on create: name, id, times, initial state, other output-only fields."""
        props = spec.schema.get("properties", {})
        if "name" in props:
            obj["name"] = name if spec.full_names else item_id
        if spec.id_field:
            obj[spec.id_field] = item_id
        stamp = now()
        for key in ("createTime", "updateTime"):
            if key in props:
                obj[key] = stamp
        state = props.get("state", {})
        if "enum" in state:
            obj["state"] = initial_state(state["enum"])
        segs = name.split("/")
        ctx = ItemContext(index=0, item_id=item_id, name=name,
                          project=segs[1] if len(segs) > 1 else self.config.project,
                          location=segs[3] if len(segs) > 3 and segs[2] in PLACES else "us-central1",
                          singular=spec.singular, service=service, state=obj.get("state"))
        gen = self.generator(service)
        rng = Random(f"{self.config.seed}|stamp|{name}")
        for key, prop in props.items():
            if key in obj or not is_output_only(prop) or key == "etag":
                continue
            if "error" in key.lower() or key.endswith("Time") or _is_container(gen, prop):
                continue
            obj[key] = gen.value(key, prop, rng, ctx, 0)
        if "etag" in props:
            obj["etag"] = etag_of(obj)

    def update(self, match: Match, spec: CollectionSpec, query: dict[str, list[str]], body: dict[str, Any],
               op_error: GoogleError | None) -> dict[str, Any]:
        service = match.route.service
        method = match.route.method
        svc = self.index.router(service).service
        props = spec.schema.get("properties", {})
        with self.store.lock:
            coll, raw = self._item(match, spec)
            current = json.loads(raw)
            if "etag" in body and "etag" in current and body["etag"] != current["etag"]:
                raise GoogleError(409, "The etag in the request does not match the current etag of "
                                       f"{match.resource_path}: read it again and retry.", "ABORTED")
            if match.route.action == "update":
                new = {k: v for k, v in current.items() if is_output_only(props.get(k, {})) or k == "name"}
                new.update({k: v for k, v in body.items() if not is_output_only(props.get(k, {}))})
            else:
                new = apply_mask(current, body, self._mask(method, spec, svc, query, body))
            if "updateTime" in props:
                new["updateTime"] = now()
            if "etag" in props:
                new.pop("etag", None)
                new["etag"] = etag_of(new)
            coll.put(match.item_id or "", new)
        if method.returns_operation:
            return self._start_operation(match, "update", new, spec.item_schema, op_error)
        return new

    def _mask(self, method: Method, spec: CollectionSpec, svc: Any, query: dict[str, list[str]],
              body: dict[str, Any]) -> list[str]:
        param = next((p for p in method.query_params if p.name in ("updateMask", "update_mask")), None)
        mask = (query.get(param.name) or [""])[-1] if param else ""
        if not mask:
            if param is not None and (param.required or param.description.startswith("Required")):
                raise bad_request("update_mask is required: name the fields to change, e.g. updateMask=labels.",
                                  field="update_mask")
            props = spec.schema.get("properties", {})
            return [k for k in body if not is_output_only(props.get(k, {}))]
        paths = mask_paths(mask)
        for path in paths:
            if path == "*":
                return [k for k in spec.schema.get("properties", {}) if k in body]
            target = schema_at(svc, spec.schema, path)
            if target is None:
                raise bad_request(
                    f"Invalid update_mask: field '{path}' does not exist in {spec.singular}.", field="update_mask")
            top = spec.schema.get("properties", {}).get(path.split(".")[0], {})
            if is_output_only(top):
                raise bad_request(f"Invalid update_mask: field '{path}' is output only.", field="update_mask")
        return paths

    def delete(self, match: Match, spec: CollectionSpec, op_error: GoogleError | None) -> dict[str, Any]:
        with self.store.lock:
            coll, _ = self._item(match, spec)
            coll.delete(match.item_id or "")
            self.store.drop_below(match.route.service, match.resource_path)
        if match.route.method.returns_operation:
            return self._start_operation(match, "delete", None, None, op_error)
        return {}

    def singleton(self, match: Match, body: dict[str, Any] | None = None,
                  query: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """A resource that is not in a collection (`.../config`): generated on first read, patchable."""
        service = match.route.service
        key = (service, match.resource_path)
        with self.store.lock:
            current = self.store.singletons.get(key)
            if current is None:
                method = match.route.method
                schema_name = method.response_schema if body is None else (method.request_schema or
                                                                            method.response_schema)
                current = self._instance(match, schema_name)
                if "name" in self.index.router(service).service.schema(schema_name).get("properties", {}):
                    current["name"] = match.resource_path
            if body is not None:
                mask = (query or {}).get("updateMask", [""])[-1]
                paths = mask_paths(mask) if mask else list(body)
                current = apply_mask(current, body, paths)
            self.store.singletons[key] = current
            return copy.deepcopy(current)

    # ----- custom methods, IAM, operations -------------------------------------------------------------

    def custom(self, match: Match, spec: CollectionSpec | None, body: dict[str, Any],
               op_error: GoogleError | None) -> dict[str, Any]:
        verb = match.route.template.verb or match.route.method.discovery_id.rsplit(".", 1)[-1]
        method = match.route.method
        item: dict[str, Any] | None = None
        coll: Collection | None = None
        if spec is not None and match.item_id is not None and len(match.segments) > 2:
            coll, raw = self._item(match, spec)
            item = json.loads(raw)
        if verb in ("getIamPolicy", "setIamPolicy", "testIamPermissions"):
            return self.iam(match, verb, body)
        if item is not None and coll is not None and spec is not None and verb in VERB_STATES:
            self._move_state(match, spec, coll, item, verb)
        if method.returns_operation:
            return self._start_operation(match, verb, None, None, op_error)
        return self._instance(match, method.response_schema)

    def _move_state(self, match: Match, spec: CollectionSpec, coll: Collection, item: dict[str, Any],
                    verb: str) -> None:
        enum = spec.schema.get("properties", {}).get("state", {}).get("enum")
        if not enum or "state" not in item:
            return
        if verb == "cancel" and str(item["state"]).endswith(TERMINAL):
            raise GoogleError(400, f"Cannot cancel {match.resource_path}: it is already {item['state']}.",
                              "FAILED_PRECONDITION")
        target = next((v for word in VERB_STATES[verb] for v in enum if v.endswith(word)), None)
        if target is None:
            return
        with self.store.lock:
            item["state"] = target
            if "updateTime" in item or "updateTime" in spec.schema.get("properties", {}):
                item["updateTime"] = now()
            if "etag" in item:
                item.pop("etag")
                item["etag"] = etag_of(item)
            coll.put(match.item_id or "", item)

    def _instance(self, match: Match, schema_name: str | None) -> dict[str, Any]:
        segs = match.segments
        ctx = ItemContext(index=0, item_id=segs[-1], name=match.resource_path,
                          project=segs[1] if len(segs) > 1 and segs[0] == "projects" else self.config.project,
                          location=segs[3] if len(segs) > 3 and segs[2] in PLACES else "us-central1",
                          singular=schema_name or "item", service=match.route.service)
        rng = Random(f"{self.config.seed}|{match.route.method.discovery_id}|{match.resource_path}")
        return self.generator(match.route.service).instance(schema_name, rng, ctx)

    def iam(self, match: Match, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        resource = match.resource_path
        with self.store.lock:
            policy = self.store.policies.get(resource)
            if policy is None:
                policy = self.store.policies[resource] = self._default_policy(match)
            if verb == "getIamPolicy":
                return copy.deepcopy(policy)
            if verb == "testIamPermissions":
                perms = body.get("permissions") or []
                return {"permissions": list(perms)} if perms else {}
            new = body.get("policy")
            if not isinstance(new, dict):
                raise bad_request("policy is required.", field="policy")
            if new.get("etag") and new["etag"] != policy["etag"]:
                raise GoogleError(
                    409,
                    "There were concurrent policy changes. Please retry the whole read-modify-write with "
                    f"exponential backoff. The request's ETag '{new['etag']}' did not match the current policy's "
                    f"ETag '{policy['etag']}'.",
                    "ABORTED",
                )
            stored = {k: copy.deepcopy(v) for k, v in new.items() if k != "etag"}
            stored.setdefault("version", 1)
            stored["etag"] = etag_of([stored, policy["etag"]])
            self.store.policies[resource] = stored
            return copy.deepcopy(stored)

    def _default_policy(self, match: Match) -> dict[str, Any]:
        rng = Random(f"{self.config.seed}|iam|{match.resource_path}")
        segs = match.segments
        project = segs[1] if len(segs) > 1 and segs[0] == "projects" else self.config.project
        policy = {
            "version": 1,
            "bindings": [
                {"role": "roles/owner", "members": [f"user:owner-{rng.randbytes(2).hex()}@example.com"]},
                {"role": f"roles/{match.route.service}.viewer",
                 "members": [f"serviceAccount:skyql-emulator@{project}.iam.gserviceaccount.com",
                             f"group:{rng.choice(('research', 'platform', 'infra'))}@example.com"]},
            ],
        }
        policy["etag"] = base64.b64encode(rng.randbytes(8)).decode()
        return policy

    def _start_operation(self, match: Match, verb: str, result: dict[str, Any] | None, schema: str | None,
                         op_error: GoogleError | None) -> dict[str, Any]:
        segs = match.segments
        if len(segs) >= 4 and segs[0] == "projects" and segs[2] == "locations":
            parent = "/".join(segs[:4])
        elif len(segs) >= 2 and segs[0] == "projects":
            parent = "/".join(segs[:2])
        else:
            parent = ""
        with self._lock:
            self._op_counter += 1
            number = self._op_counter
        name = f"{parent}/operations/{number}" if parent else f"operations/{number}"
        response = None
        if result is not None:
            response = {"@type": type_url(schema), **result}
        op = Operation(
            name=name,
            metadata={"@type": "type.googleapis.com/google.cloud.common.OperationMetadata", "createTime": now(),
                      "target": match.resource_path, "verb": verb,
                      "apiVersion": self.index.router(match.route.service).service.version},
            done_after=self.config.operation_polls,
            response=response,
            error=op_error.rpc_status() if op_error else None,
        )
        with self.store.lock:
            self.store.operations[name] = op
        return op.render()

    def _operation_call(self, match: Match, action: str, spec: CollectionSpec) -> dict[str, Any] | bytes:
        """operations.get/list/delete/cancel/wait: one store for every service, keyed by operation name."""
        verb = match.route.template.verb
        with self.store.lock:
            if action == "list":
                prefix = match.collection_path + "/"
                ops = [op.render() for name, op in self.store.operations.items() if name.startswith(prefix)]
                return {"operations": ops} if ops else {}
            op = self.store.operations.get(match.resource_path)
            if op is None:
                raise not_found(f"Operation {match.resource_path} was not found.")
            if action == "delete":
                del self.store.operations[match.resource_path]
                return {}
            if verb == "cancel":
                if not op.done:
                    op.cancelled = True
                    op.error = GoogleError(499, "Operation was cancelled.", "CANCELLED").rpc_status()
                return {}
            if verb == "wait":
                op.polls = max(op.polls, op.done_after)
                return op.render()
            op.polls += 1
            return op.render()


def message_field(schema_name: str | None) -> str:
    """How Google names a request body in errors: GoogleCloudMlV1__Job -> job."""
    return snake_case(type_url(schema_name).rsplit(".", 1)[-1]) if schema_name else "body"


def initial_state(enum: list[str]) -> str:
    """The state a new resource starts in: QUEUED/PENDING-like first, then ACTIVE-like."""
    values = useful_enum(enum)
    for group in (INITIAL_STATES, READY_STATES):
        for v in values:
            if v.endswith(group):
                return v
    return values[0]


def _is_container(gen: Generator, prop: dict[str, Any]) -> bool:
    resolved = gen.service.resolve(prop)
    return resolved.get("type") in ("object", "array") or "properties" in resolved or "$ref" in prop
