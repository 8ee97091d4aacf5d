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
from skyql.emulator.routing import CollectionSpec, Match, ServiceRouter, is_compute_operation
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
    "fields",
    "key",
    "alt",
    "prettyPrint",
    "quotaUser",
    "$.xgafv",
    "access_token",
    "callback",
    "upload_protocol",
    "uploadType",
    "oauth_token",
    "userIp",
    "requestReason",
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
    "stop": ("STOPPED", "TERMINATED", "STOPPING"),
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
                raise GoogleError(
                    404,
                    f"Method not found: {req.method} /{path} answers only {', '.join(verbs)}.",
                    "NOT_FOUND",
                    reason="METHOD_NOT_FOUND",
                )
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

    def _dispatch(
        self, match: Match, req: ApiRequest, op_error: GoogleError | None
    ) -> dict[str, Any] | bytes:
        action = match.route.action
        method = match.route.method
        spec = self._spec(match)
        body = self._body(match, req) if method.request_schema else {}
        if spec is not None and spec.is_operations:
            return self._operation_call(match, action, spec)
        if _is_compute_wait(match):
            return self._compute_wait(match)
        if action == "list" and spec is not None and spec.items_key:
            return self.list(match, spec, req.query)
        if action == "list" and spec is not None and spec.aggregated:
            return self.aggregated(match, spec, req.query)
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
        return self.custom(match, spec, body, op_error, req.query)

    # ----- request checks ----------------------------------------------------------------------------

    def _check_denied(self, match: Match) -> None:
        segs = match.segments
        if len(segs) >= 2 and segs[0] == "projects" and segs[1] in self.denied:
            parts = match.route.method.discovery_id.split(".")
            permission = (
                f"{parts[0]}.{parts[-2]}.{parts[-1]}" if len(parts) >= 3 else match.route.method.discovery_id
            )
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
                        raise bad_request(
                            f"Invalid value at '{snake_case(name)}' (TYPE_INT32), \"{v}\"", field=name
                        ) from None
            elif param.type == "boolean" and any(
                v.lower() not in ("true", "false", "1", "0") for v in values
            ):
                raise bad_request(
                    f"Invalid value at '{snake_case(name)}' (TYPE_BOOL), \"{values[-1]}\"", field=name
                )

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
                if path == "projects" and spec.get is not None:
                    # A root `projects` collection (compute.projects, cloudresourcemanager): the default project.
                    self.fill(service, spec, coll, 1)
                elif spec.owner_param:
                    self.fill(service, spec, coll, self.config.rows, owner=self.config.project)
                elif self._is_default_parent(service, path):
                    self.fill(service, spec, coll, self.config.rows)
            return coll

    def _is_default_parent(self, service: str, path: str) -> bool:
        segs = path.split("/")
        parent = segs[:-1]
        if len(parent) == 2 and parent[0] != "projects":
            # Under an item of a root collection listed per project (storage's `b/{bucket}/o`): its owner's.
            router = self.index.router(service)
            spec = router.collection_for(parent[0])
            if spec is None or not spec.owner_param:
                return False
            return self.collection(service, spec, parent[0]).owners.get(parent[1]) == self.config.project
        if len(parent) < 2 or parent[0] != "projects" or parent[1] != self.config.project:
            return False
        if len(parent) == 2:
            return True
        if len(parent) == 3 and parent[2] == "global":
            return True  # compute's global collections: projects/p/global/networks
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

    def fill(
        self, service: str, spec: CollectionSpec, coll: Collection, count: int, owner: str | None = None
    ) -> None:
        """Add `count` generated items; deterministic for (seed, service, collection, items already there)."""
        rng = Random(f"{self.config.seed}|{service}|{coll.key}|{len(coll)}" + (f"|{owner}" if owner else ""))
        segs = coll.key.split("/")
        project = owner or (segs[1] if len(segs) > 1 and segs[0] == "projects" else self.config.project)
        if coll.key == "projects":
            count = 0 if project in coll else min(count, 1)
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
            if coll.key == "projects":
                item_id = project
            elif places and i < len(places):
                item_id = places[i]
            else:
                item_id = self._new_id(spec, rng, coll, project, owned=owner is not None)
            ctx = ItemContext(
                index=i,
                item_id=item_id,
                name=f"{coll.key}/{item_id}",
                project=project,
                location=item_id if places else location,
                singular=spec.singular,
                service=service,
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
            self._identify(service, spec, obj, coll.key, item_id, project, rng)
            if service == "compute":
                self._compute_references(spec, obj, coll.key, i)
            if owner is not None:
                coll.owners[item_id] = owner
            coll.put(item_id, obj)

    def _new_id(
        self,
        spec: CollectionSpec,
        rng: Random,
        coll: Collection,
        project: str | None = None,
        owned: bool = False,
    ) -> str:
        project = project or self.config.project
        if spec.name_keyed or _is_service_accounts(spec):
            # Names as people choose them: network-1, instance-2; bucket-demo-project-1 (bucket names are global).
            word = snake_case(spec.name_word or spec.singular).replace("_", "-").removesuffix("s-id")
            word = "service-account" if _is_service_accounts(spec) else word
            n = len(coll) + 1
            while True:
                item_id = f"{word}-{project}-{n}" if owned else f"{word}-{n}"
                if _is_service_accounts(spec):
                    item_id = f"{item_id}@{project}.iam.gserviceaccount.com"
                if item_id not in coll:
                    return item_id
                n += 1
        while True:
            if spec.id_param or spec.id_field:
                sep = "_" if spec.id_field else "-"
                word = snake_case(spec.singular).replace("_", sep)
                item_id = f"{word}{sep}{rng.randbytes(4).hex()}"
            else:
                item_id = str(rng.randrange(10**18, 9 * 10**18))
            if item_id not in coll:
                return item_id

    def _identify(
        self,
        service: str,
        spec: CollectionSpec,
        obj: dict[str, Any],
        coll_path: str,
        item_id: str,
        project: str,
        rng: Random,
    ) -> None:
        """Identity fields that must agree with the item's place: selfLink, projectId/Number, a bucket's id."""
        props = spec.schema.get("properties", {})
        number = project_number(project)
        if spec.name_keyed and "name" in props:
            obj["name"] = item_id
        if spec.name_keyed and "id" in props and props["id"].get("format") not in ("uint64", "int64"):
            obj["id"] = item_id  # storage: "For buckets, the id and name properties are the same."
        if "selfLink" in props:
            obj["selfLink"] = self.self_link(service, f"{coll_path}/{item_id}")
        if "projectNumber" in props:
            obj["projectNumber"] = number
        if "projectId" in props:
            obj["projectId"] = project
        if coll_path == "projects" and spec.get is not None:
            self._identify_project(spec, obj, project, number)
        if _is_service_accounts(spec):
            obj["email"] = item_id
            obj["name"] = f"{coll_path}/{item_id}"
            if not obj.get("displayName") or obj["displayName"].startswith("service-account-"):
                obj["displayName"] = item_id.split("@", 1)[0]
            obj["uniqueId"] = str(rng.randrange(10**20, 10**21))
            obj.pop("disabled", None)  # absent unless disabled, as Google answers
            if "oauth2ClientId" in props:
                obj["oauth2ClientId"] = obj["uniqueId"]
        if service == "compute":
            segs = coll_path.split("/")
            for key, kind in (("zone", "zones"), ("region", "regions")):
                if key in props and len(segs) > 3 and segs[2] == kind:
                    obj[key] = self.self_link(service, "/".join(segs[:4]))
            if "region" in props and len(segs) > 3 and segs[2] == "zones":
                obj["region"] = self.self_link(
                    service, f"projects/{segs[1]}/regions/{segs[3].rsplit('-', 1)[0]}"
                )

    def _compute_references(
        self, spec: CollectionSpec, obj: dict[str, Any], coll_path: str, index: int
    ) -> None:
        """Seeded compute items point at seeded neighbours, as URLs: a subnetwork's network, an instance's
        machine type; CIDR ranges that read as ranges."""
        props = spec.schema.get("properties", {})
        segs = coll_path.split("/")
        if len(segs) < 3 or segs[0] != "projects":
            return
        project = segs[1]
        zone = segs[3] if segs[2] == "zones" and len(segs) > 3 else None
        region = (
            segs[3] if segs[2] == "regions" and len(segs) > 3 else (zone.rsplit("-", 1)[0] if zone else None)
        )
        refs = {"network": f"projects/{project}/global/networks/network-1"}
        if region:
            refs["subnetwork"] = f"projects/{project}/regions/{region}/subnetworks/subnetwork-1"
        if zone:
            refs["machineType"] = f"projects/{project}/zones/{zone}/machineTypes/e2-medium"
        for key, path in refs.items():
            if props.get(key, {}).get("type") == "string" and key in obj:
                obj[key] = self.self_link("compute", path)
        if "ipCidrRange" in obj:
            obj["ipCidrRange"] = f"10.{index % 250 + 1}.0.0/20"
        if segs[2] == "regions" and "zone" in obj and "region" in props:
            del obj["zone"]  # a regional disk has a region (and replica zones), no zone
        if zone and "networkInterfaces" in props:
            # What instance queries read most: the internal and external IP, the boot disk, the account.
            nic = {
                "kind": "compute#networkInterface",
                "name": "nic0",
                "network": self.self_link("compute", refs["network"]),
                "subnetwork": self.self_link("compute", refs["subnetwork"]),
                "networkIP": f"10.{PLACES['zones'].index(zone) + 1 if zone in PLACES['zones'] else 9}.0.{index + 2}",
                "stackType": "IPV4_ONLY",
                "accessConfigs": [
                    {
                        "kind": "compute#accessConfig",
                        "name": "External NAT",
                        "type": "ONE_TO_ONE_NAT",
                        "natIP": f"34.{index % 200 + 10}.{len(zone)}.{index + 20}",
                        "networkTier": "PREMIUM",
                    }
                ],
            }
            obj["networkInterfaces"] = [nic]
            if "disks" in props:
                obj["disks"] = [
                    {
                        "kind": "compute#attachedDisk",
                        "type": "PERSISTENT",
                        "mode": "READ_WRITE",
                        "boot": True,
                        "autoDelete": True,
                        "deviceName": obj.get("name", "disk"),
                        "index": 0,
                        "diskSizeGb": "10",
                        "interface": "SCSI",
                        "source": self.self_link(
                            "compute", f"projects/{project}/zones/{zone}/disks/{obj.get('name', 'disk')}"
                        ),
                    }
                ]
            if "serviceAccounts" in props:
                obj["serviceAccounts"] = [
                    {
                        "email": f"{project_number(project)}-compute@developer.gserviceaccount.com",
                        "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                    }
                ]

    def _identify_project(self, spec: CollectionSpec, obj: dict[str, Any], project: str, number: str) -> None:
        """The default project as compute and Resource Manager show it: id, number, parent, an ACTIVE state."""
        props = spec.schema.get("properties", {})
        if spec.full_names and "name" in props:
            obj["name"] = f"projects/{number}"  # Resource Manager v3 names a project by its number
        if "id" in props and props["id"].get("format") in ("uint64", "int64"):
            obj["id"] = number
        if "parent" in props and props["parent"].get("type") == "string":
            obj["parent"] = f"organizations/{project_number('organization')}"
        if "displayName" in props:
            obj["displayName"] = project
        for key in ("state", "lifecycleState"):
            if key in props and "ACTIVE" in props[key].get("enum", ()):
                obj[key] = "ACTIVE"
        if "defaultServiceAccount" in props:
            obj["defaultServiceAccount"] = f"{number}-compute@developer.gserviceaccount.com"

    def self_link(self, service: str, path: str) -> str:
        svc = self.index.router(service).service
        return f"{svc.root_url}{svc.service_path}{path}"

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
            coll = (
                self.collection(service, spec, path)
                if spec.owner_param
                else self.store.create_collection(service, path)
            )
            # Root collections listed per project (buckets) are filled for the default project.
            self.fill(service, spec, coll, count, owner=self.config.project if spec.owner_param else None)
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
            if spec.owner_param:
                coll.owners[item_id] = self.config.project
            coll.put(item_id, obj)
        return obj

    # ----- standard methods ----------------------------------------------------------------------------

    def list(
        self, match: Match, spec: CollectionSpec, query: dict[str, list[str]], tree: FieldTree | None = None
    ) -> bytes:
        """One page as bytes; with a `fields` tree, each item masked once and remembered (a page costs a join)."""
        service = match.route.service
        coll = self.collection(service, spec, match.collection_path)
        size = self._page_size(match.route.method, query)
        flt = (query.get("filter") or [""])[-1].strip()
        owner = self._owner(spec, query)
        equal = self._root_filters(match, spec, query)
        scope = f"{service}|{coll.key}|{flt}|{owner or ''}|{sorted(equal.items())}"
        with self.store.lock:
            if flt or equal:
                pred = parse_filter(flt) if flt else (lambda obj: True)
                ids = [
                    item_id
                    for item_id, obj in coll.objects()
                    if pred(obj) and all(obj.get(k) == v for k, v in equal.items())
                ]
            else:
                ids = coll.ids
            if owner is not None:
                ids = [item_id for item_id in ids if coll.owners.get(item_id) == owner]
            token = (query.get("pageToken") or [""])[-1]
            offset = read_page_token(token, scope, ids) if token else 0
            chunk = ids[offset : offset + size]
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

    def _owner(self, spec: CollectionSpec, query: dict[str, list[str]]) -> str | None:
        """The project a root collection is listed for (`b?project=p`); a 400 when it is missing."""
        if not spec.owner_param:
            return None
        value = (query.get(spec.owner_param) or [""])[-1]
        if not value:
            raise bad_request(f"Required parameter: {spec.owner_param}", field=spec.owner_param)
        return value

    def _root_filters(
        self, match: Match, spec: CollectionSpec, query: dict[str, list[str]]
    ) -> dict[str, str]:
        """Query parameters of a root list that are fields of its items (`v3/projects?parent=...`)."""
        if "/" in match.collection_path:
            return {}
        props = spec.schema.get("properties", {})
        return {
            p.name: query[p.name][-1]
            for p in match.route.method.query_params
            if p.name in query and p.name in props and p.name not in PAGE_SIZE_PARAMS and p.name != "filter"
        }

    def aggregated(self, match: Match, spec: CollectionSpec, query: dict[str, list[str]]) -> dict[str, Any]:
        """Compute's aggregatedList: the items of every zone (or region) of the project, keyed by scope, paged."""
        service = match.route.service
        project = match.segments[1]
        key: str = spec.aggregated  # type: ignore[assignment]
        scopes = self._scopes(service, spec, project)
        flt = (query.get("filter") or [""])[-1].strip()
        pred = parse_filter(flt) if flt else None
        scope_key = f"{service}|{match.collection_path}|{flt}"
        with self.store.lock:
            flat: list[tuple[str, str]] = []
            for scope, coll in scopes:
                flat += [(scope, item_id) for item_id, obj in coll.objects() if pred is None or pred(obj)]
            keys = [f"{scope}/{item_id}" for scope, item_id in flat]
            token = (query.get("pageToken") or [""])[-1]
            offset = read_page_token(token, scope_key, keys) if token else 0
            size = self._page_size(match.route.method, query)
            chunk = flat[offset : offset + size]
            by_scope: dict[str, list[Any]] = {}
            for scope, item_id in chunk:
                by_scope.setdefault(scope, []).append(json.loads(dict(scopes)[scope].items[item_id]))
        items: dict[str, Any] = {}
        for scope, _ in scopes:
            if scope in by_scope:
                items[scope] = {key: by_scope[scope]}
            else:
                # Google's answer for a zone with nothing on this page.
                items[scope] = {
                    "warning": {
                        "code": "NO_RESULTS_ON_PAGE",
                        "message": f"There are no results for scope '{scope}' on this page.",
                        "data": [{"key": "scope", "value": scope}],
                    }
                }
        out: dict[str, Any] = {
            "kind": f"compute#{spec.item_schema[:1].lower()}{spec.item_schema[1:]}"
            if spec.item_schema
            else "compute#aggregatedList",
            "id": match.collection_path,
            "items": items,
            "selfLink": self.self_link(service, match.collection_path),
        }
        if offset + size < len(flat) and chunk:
            out["nextPageToken"] = page_token(scope_key, offset + len(chunk), keys[offset + len(chunk) - 1])
        return out

    def _scopes(self, service: str, spec: CollectionSpec, project: str) -> list[tuple[str, Collection]]:
        """(`zones/us-central1-a`, its collection) for every zone or region holding this kind of item."""
        router = self.index.router(service)
        with_global = "global" in (spec.list.description.lower() if spec.list else "")
        out: list[tuple[str, Collection]] = []
        for other in router.collections.values():
            parts = other.key.split("/")
            if other.literal != spec.literal or other is spec or parts[:2] != ["projects", "{}"]:
                continue
            if len(parts) == 5 and parts[2] in ("zones", "regions") and parts[3] == "{}":
                kind = parts[2]
                names = list(PLACES[kind]) if project == self.config.project else []
                prefix = f"projects/{project}/{kind}/"
                with self.store.lock:
                    names += sorted(
                        {
                            p[len(prefix) :].split("/", 1)[0]
                            for (s, p) in self.store.collections
                            if s == service
                            and p.startswith(prefix)
                            and p.endswith("/" + spec.literal)
                            and p.count("/") == 4
                        }
                    )
                for place in dict.fromkeys(names):
                    out.append(
                        (
                            f"{kind}/{place}",
                            self.collection(service, other, f"{prefix}{place}/{spec.literal}"),
                        )
                    )
            elif len(parts) == 4 and parts[2] == "global" and with_global:
                out.append(
                    ("global", self.collection(service, other, f"projects/{project}/global/{spec.literal}"))
                )
        return out

    def _page_size(self, method: Method, query: dict[str, list[str]]) -> int:
        cap = self.config.page_size_cap
        for name in PAGE_SIZE_PARAMS:
            if name in query and method.param(name):
                size = int(query[name][-1])
                if size < 0:
                    raise bad_request(
                        f"{snake_case(name)} must be positive, got {size}.", field=snake_case(name)
                    )
                return min(size, cap) if size else cap
        return cap

    def _item(self, match: Match, spec: CollectionSpec) -> tuple[Collection, bytes]:
        coll = self.collection(match.route.service, spec, match.collection_path)
        raw = coll.items.get(self._item_key(match, spec, coll))
        if raw is None:
            word = spec.name_word if spec.name_keyed else spec.singular
            raise not_found(f'{word[:1].upper()}{word[1:]} "{match.resource_path}" was not found.')
        return coll, raw

    def _item_key(self, match: Match, spec: CollectionSpec, coll: Collection) -> str:
        """The stored id of the addressed item: as given, else an item known by another name for the same
        thing (a service account by its uniqueId, a project by `projects/<number>`)."""
        item_id = match.item_id or ""
        if item_id in coll or not (_is_service_accounts(spec) or coll.key == "projects"):
            return item_id
        for key, obj in coll.objects():
            if (
                item_id in (obj.get("uniqueId"), obj.get("projectNumber"), obj.get("id"))
                or obj.get("name") == match.resource_path
            ):
                return key
        return item_id

    def get(self, match: Match, spec: CollectionSpec) -> bytes:
        return self._item(match, spec)[1]

    def create(
        self,
        match: Match,
        spec: CollectionSpec,
        query: dict[str, list[str]],
        body: dict[str, Any],
        op_error: GoogleError | None,
    ) -> dict[str, Any]:
        service = match.route.service
        method = match.route.method
        svc = self.index.router(service).service
        schema = svc.schema(method.request_schema) if method.request_schema else spec.schema
        props = schema.get("properties", {})
        coll_path = match.collection_path
        request_id = (query.get("requestId") or [""])[-1]
        once = (
            (service, coll_path, request_id)
            if request_id and ("query", "requestId") in method.idempotency_keys
            else None
        )
        if once is not None and once in self._by_request_id:
            return self._by_request_id[once]
        coll = self.collection(service, spec, coll_path)
        item_id = match.item_id if match.route.action == "create_at" else None
        if item_id is None and spec.id_param:
            item_id = (query.get(spec.id_param) or [""])[-1] or None
            param = method.param(spec.id_param)
            if (
                item_id is None
                and param is not None
                and (param.required or param.description.startswith("Required"))
            ):
                raise bad_request(f"{spec.id_param} is required.", field=snake_case(spec.id_param))
        wrapper = _wrapped_item(svc, schema, spec)
        if wrapper is not None:
            # A request message around the item (iam's {accountId, serviceAccount: {...}}): unwrap it.
            ids = {k: v for k, v in body.items() if k.endswith("Id") and isinstance(v, str) and v}
            body = dict(body.get(wrapper) or {})
            props = spec.schema.get("properties", {})
            if item_id is None and len(ids) == 1:
                item_id = next(iter(ids.values()))
        owner = self._owner(spec, query)
        if (
            item_id is None
            and spec.id_field
            and body.get(spec.id_field)
            and (("body", spec.id_field) in method.idempotency_keys)
        ):
            item_id = str(body[spec.id_field])
        if item_id is None and isinstance(body.get("name"), str) and body["name"].startswith(coll_path + "/"):
            item_id = body["name"].rsplit("/", 1)[-1]
        if spec.name_keyed and item_id is None:
            name = body.get("name")
            if not isinstance(name, str) or not name:
                raise bad_request(
                    "Invalid value for field 'resource.name': ''. Must be a match of regex "
                    "'[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?': set the name of the new "
                    f"{spec.name_word or spec.singular}.",
                    field="resource.name",
                )
            item_id = name.rsplit("/", 1)[-1]
        if item_id is not None and _is_service_accounts(spec) and "@" not in item_id:
            segs = coll_path.split("/")
            item_id = f"{item_id}@{segs[1]}.iam.gserviceaccount.com"
        for key, prop in props.items():
            if description_says_required(prop) and key not in body and key != "name":
                if key == spec.id_field and item_id:
                    continue
                raise bad_request(f"Field '{key}' is required.", field=key)
        obj = {k: v for k, v in body.items() if not is_output_only(props.get(k, {}))}
        with self.store.lock:
            if item_id is None:
                item_id = self._new_id(
                    spec, Random(f"{self.config.seed}|create|{coll_path}|{len(coll)}"), coll
                )
            name = f"{coll_path}/{item_id}"
            if item_id in coll:
                raise GoogleError(
                    409,
                    f'{spec.singular[:1].upper()}{spec.singular[1:]} "{name}" already exists.',
                    "ALREADY_EXISTS",
                )
            self._stamp_new(service, spec, obj, item_id, name)
            segs = coll_path.split("/")
            project = owner or (segs[1] if len(segs) > 1 and segs[0] == "projects" else self.config.project)
            self._identify(
                service, spec, obj, coll_path, item_id, project, Random(f"{self.config.seed}|identify|{name}")
            )
            if owner is not None:
                coll.owners[item_id] = owner
            coll.put(item_id, obj)
        if self._returns_operation(match):
            result = self._start_operation(
                match,
                "create",
                obj,
                spec.item_schema,
                op_error,
                target=f"{coll_path}/{item_id}",
                target_id=obj.get("id"),
            )
        else:
            result = obj
        if once is not None:
            self._by_request_id[once] = result
        return result

    def _stamp_new(
        self, service: str, spec: CollectionSpec, obj: dict[str, Any], item_id: str, name: str
    ) -> None:
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
        for key, prop in props.items():
            if (
                key not in obj
                and (is_output_only(prop) or key in ("timeCreated", "updated"))
                and (prop.get("format") == "date-time" or key == "creationTimestamp")
            ):
                obj[key] = stamp  # storage's timeCreated/updated, compute's creationTimestamp
        for key, default in _CREATE_DEFAULTS.get(service, {}).items():
            if key in props and key not in obj:
                obj[key] = default
        state = props.get("state", {})
        if "enum" in state:
            obj["state"] = initial_state(state["enum"])
        segs = name.split("/")
        ctx = ItemContext(
            index=0,
            item_id=item_id,
            name=name,
            project=segs[1] if len(segs) > 1 else self.config.project,
            location=segs[3] if len(segs) > 3 and segs[2] in PLACES else "us-central1",
            singular=spec.singular,
            service=service,
            state=obj.get("state"),
        )
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

    def update(
        self,
        match: Match,
        spec: CollectionSpec,
        query: dict[str, list[str]],
        body: dict[str, Any],
        op_error: GoogleError | None,
    ) -> dict[str, Any]:
        service = match.route.service
        method = match.route.method
        svc = self.index.router(service).service
        props = spec.schema.get("properties", {})
        req_schema = svc.schema(method.request_schema) if method.request_schema else {}
        wrapper = _wrapped_item(svc, req_schema, spec)
        if wrapper is not None:
            # iam's PatchServiceAccountRequest {serviceAccount: {...}, updateMask}: the item and its mask.
            if body.get("updateMask") and "updateMask" not in query:
                query = {**query, "updateMask": [str(body["updateMask"])]}
            body = dict(body.get(wrapper) or {})
        with self.store.lock:
            coll, raw = self._item(match, spec)
            current = json.loads(raw)
            if "etag" in body and "etag" in current and body["etag"] != current["etag"]:
                raise GoogleError(
                    409,
                    "The etag in the request does not match the current etag of "
                    f"{match.resource_path}: read it again and retry.",
                    "ABORTED",
                )
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
            coll.put(self._item_key(match, spec, coll), new)
        if self._returns_operation(match):
            return self._start_operation(
                match,
                method.discovery_id.rsplit(".", 1)[-1],
                new,
                spec.item_schema,
                op_error,
                target=match.resource_path,
                target_id=new.get("id"),
            )
        return new

    def _mask(
        self,
        method: Method,
        spec: CollectionSpec,
        svc: Any,
        query: dict[str, list[str]],
        body: dict[str, Any],
    ) -> list[str]:
        param = next((p for p in method.query_params if p.name in ("updateMask", "update_mask")), None)
        mask = (query.get(param.name) or [""])[-1] if param else ""
        if not mask:
            if param is not None and (param.required or param.description.startswith("Required")):
                raise bad_request(
                    "update_mask is required: name the fields to change, e.g. updateMask=labels.",
                    field="update_mask",
                )
            props = spec.schema.get("properties", {})
            return [k for k in body if not is_output_only(props.get(k, {}))]
        paths = mask_paths(mask)
        for path in paths:
            if path == "*":
                return [k for k in spec.schema.get("properties", {}) if k in body]
            target = schema_at(svc, spec.schema, path)
            if target is None:
                raise bad_request(
                    f"Invalid update_mask: field '{path}' does not exist in {spec.singular}.",
                    field="update_mask",
                )
            top = spec.schema.get("properties", {}).get(path.split(".")[0], {})
            if is_output_only(top):
                raise bad_request(f"Invalid update_mask: field '{path}' is output only.", field="update_mask")
        return paths

    def delete(self, match: Match, spec: CollectionSpec, op_error: GoogleError | None) -> dict[str, Any]:
        with self.store.lock:
            coll, raw = self._item(match, spec)
            target_id = json.loads(raw).get("id")
            coll.delete(self._item_key(match, spec, coll))
            self.store.drop_below(match.route.service, match.resource_path)
        if self._returns_operation(match):
            return self._start_operation(
                match, "delete", None, None, op_error, target=match.resource_path, target_id=target_id
            )
        return {}

    def singleton(
        self, match: Match, body: dict[str, Any] | None = None, query: dict[str, list[str]] | None = None
    ) -> dict[str, Any]:
        """A resource that is not in a collection (`.../config`): generated on first read, patchable."""
        service = match.route.service
        key = (service, match.resource_path)
        with self.store.lock:
            current = self.store.singletons.get(key)
            if current is None:
                method = match.route.method
                schema_name = (
                    method.response_schema
                    if body is None
                    else (method.request_schema or method.response_schema)
                )
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

    def custom(
        self,
        match: Match,
        spec: CollectionSpec | None,
        body: dict[str, Any],
        op_error: GoogleError | None,
        query: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        verb = match.route.template.verb or match.route.method.discovery_id.rsplit(".", 1)[-1]
        method = match.route.method
        transfer = _transfer_paths(match)
        if transfer is not None:
            return self._transfer(match, *transfer, op_error=op_error)
        item: dict[str, Any] | None = None
        coll: Collection | None = None
        item_key, item_path = match.item_id or "", match.resource_path
        if spec is not None and match.item_id is not None and len(match.segments) > 2:
            coll, raw = self._item(match, spec)
            item = json.loads(raw)
            item_key = self._item_key(match, spec, coll)
        elif _is_literal_verb(match):
            # compute's `.../instances/{instance}/stop`: the verb is a path segment after the item.
            item_path = "/".join(match.segments[:-1])
            coll_path, item_key = item_path.rsplit("/", 1)
            spec = self.index.router(match.route.service).collection_for(coll_path)
            if spec is not None and not spec.is_operations:
                coll = self.collection(match.route.service, spec, coll_path)
                raw_item = coll.items.get(item_key)
                if raw_item is None:
                    raise not_found(f"The resource '{item_path}' was not found")
                item = json.loads(raw_item)
        if verb in ("getIamPolicy", "setIamPolicy", "testIamPermissions"):
            return self.iam(match, verb, body)
        if verb == "search" and spec is not None and match.item_id is None:
            found = self._search(match, spec, (query or {}).get("query", [""])[-1])
            if found is not None:
                return found
        if item is not None and coll is not None and spec is not None and verb in VERB_STATES:
            self._move_state(item_path, spec, coll, item_key, item, verb)
        if self._returns_operation(match):
            return self._start_operation(
                match,
                verb,
                None,
                None,
                op_error,
                target=item_path,
                target_id=item.get("id") if item else None,
            )
        return self._instance(match, method.response_schema)

    def _transfer(
        self, match: Match, source: str, target: str, keep_source: bool, op_error: GoogleError | None = None
    ) -> dict[str, Any]:
        """Storage's `moveTo` / `copyTo` / `rewriteTo` / `renameTo`: the source item, under the target's name
        and bucket."""
        service = match.route.service
        router = self.index.router(service)
        found = []
        for path in (source, target):
            coll_path, item_id = path.rsplit("/", 1)
            spec = router.collection_for(coll_path)
            if spec is None:
                raise not_found(f"The requested URL /{match.resource_path} was not found on this server.")
            found.append((self.collection(service, spec, coll_path), item_id, spec))
        (src_coll, src_id, _), (dst_coll, dst_id, spec) = found
        with self.store.lock:
            obj = src_coll.get(src_id)
            if obj is None:
                raise not_found(f"No such object: {source}")
            moved = dict(obj, name=dst_id)
            if "bucket" in moved:
                moved["bucket"] = target.split("/")[1]
            dst_coll.put(dst_id, moved)
            if not keep_source:
                src_coll.delete(src_id)
        svc = router.service
        response = match.route.method.response_schema
        if self._returns_operation(match):
            return self._start_operation(match, "rename", None, None, op_error, target=target)
        if response in (None, spec.item_schema):
            return moved
        # rewriteTo answers a RewriteResponse that holds the new object when it is done.
        out = self._instance(match, response)
        props = svc.schema(response).get("properties", {})
        out.update({k: v for k, v in (("done", True), ("resource", moved)) if k in props})
        out.pop("rewriteToken", None)
        return out

    def _search(self, match: Match, spec: CollectionSpec, text: str) -> dict[str, Any] | None:
        """`projects:search` (Resource Manager): the collection's items matching `query` (`id:p`, `parent:x`)."""
        method = match.route.method
        svc = self.index.router(match.route.service).service
        props = svc.schema(method.response_schema).get("properties", {})
        keys = [
            k
            for k, p in props.items()
            if p.get("type") == "array" and p.get("items", {}).get("$ref") == spec.item_schema
        ]
        if len(keys) != 1:
            return None
        coll = self.collection(match.route.service, spec, match.collection_path)
        terms = []
        for term in re.findall(r"([\w.]+)\s*[:=]\s*(\"[^\"]*\"|\S+)", text):
            field, value = term[0], term[1].strip('"')
            terms.append((_SEARCH_FIELDS.get(field.lower(), field), value))
        with self.store.lock:
            rows = [
                obj
                for _, obj in coll.objects()
                if all(str(_dotted(obj, f)).lower() == v.lower() for f, v in terms)
            ]
        return {keys[0]: rows} if rows else {}

    def _move_state(
        self,
        path: str,
        spec: CollectionSpec,
        coll: Collection,
        item_key: str,
        item: dict[str, Any],
        verb: str,
    ) -> None:
        props = spec.schema.get("properties", {})
        if verb in ("enable", "disable") and "disabled" in props:
            # A service account is enabled or not by a boolean, absent while false.
            item.pop("disabled", None)
            if verb == "disable":
                item["disabled"] = True
            with self.store.lock:
                coll.put(item_key, item)
            return
        field = "state" if "enum" in props.get("state", {}) else "status"  # compute's instances have `status`
        enum = props.get(field, {}).get("enum")
        if not enum or field not in item:
            return
        if verb == "cancel" and str(item[field]).endswith(TERMINAL):
            raise GoogleError(
                400, f"Cannot cancel {path}: it is already {item[field]}.", "FAILED_PRECONDITION"
            )
        target = next((v for word in VERB_STATES[verb] for v in enum if v.endswith(word)), None)
        if target is None:
            return
        with self.store.lock:
            item[field] = target
            if "updateTime" in item or "updateTime" in props:
                item["updateTime"] = now()
            if "etag" in item:
                item.pop("etag")
                item["etag"] = etag_of(item)
            coll.put(item_key, item)

    def _instance(self, match: Match, schema_name: str | None) -> dict[str, Any]:
        segs = match.segments
        ctx = ItemContext(
            index=0,
            item_id=segs[-1],
            name=match.resource_path,
            project=segs[1] if len(segs) > 1 and segs[0] == "projects" else self.config.project,
            location=segs[3] if len(segs) > 3 and segs[2] in PLACES else "us-central1",
            singular=schema_name or "item",
            service=match.route.service,
        )
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
                {
                    "role": f"roles/{match.route.service}.viewer",
                    "members": [
                        f"serviceAccount:skyql-emulator@{project}.iam.gserviceaccount.com",
                        f"group:{rng.choice(('research', 'platform', 'infra'))}@example.com",
                    ],
                },
            ],
        }
        policy["etag"] = base64.b64encode(rng.randbytes(8)).decode()
        return policy

    def _returns_operation(self, match: Match) -> bool:
        method = match.route.method
        if method.returns_operation:
            return True
        svc = self.index.router(match.route.service).service
        return method.response_schema is not None and is_compute_operation(svc.schema(method.response_schema))

    def _start_operation(
        self,
        match: Match,
        verb: str,
        result: dict[str, Any] | None,
        schema: str | None,
        op_error: GoogleError | None,
        target: str = "",
        target_id: Any = None,
    ) -> dict[str, Any]:
        svc = self.index.router(match.route.service).service
        if match.route.method.response_schema and is_compute_operation(
            svc.schema(match.route.method.response_schema)
        ):
            return self._start_compute_operation(match, target or match.resource_path, target_id, op_error)
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
            metadata={
                "@type": "type.googleapis.com/google.cloud.common.OperationMetadata",
                "createTime": now(),
                "target": match.resource_path,
                "verb": verb,
                "apiVersion": self.index.router(match.route.service).service.version,
            },
            done_after=self.config.operation_polls,
            response=response,
            error=op_error.rpc_status() if op_error else None,
        )
        with self.store.lock:
            self.store.operations[name] = op
        return op.render()

    def _start_compute_operation(
        self, match: Match, target: str, target_id: Any, op_error: GoogleError | None
    ) -> dict[str, Any]:
        """Compute's Operation: kind compute#operation, a `status` that ends DONE, a `selfLink` to poll."""
        segs = match.segments
        service = match.route.service
        project = segs[1] if len(segs) > 1 and segs[0] == "projects" else self.config.project
        scope = f"{segs[2]}/{segs[3]}" if len(segs) > 3 and segs[2] in ("zones", "regions") else "global"
        with self._lock:
            self._op_counter += 1
            number = self._op_counter
        stamp = now()
        name = f"operation-{number}-{hashlib.sha1(f'{self.config.seed}|{number}'.encode()).hexdigest()[:12]}"
        path = f"projects/{project}/{scope}/operations/{name}"
        fields: dict[str, Any] = {
            "kind": "compute#operation",
            "id": str(number * 7919 % 10**19),
            "name": name,
            "operationType": match.route.method.discovery_id.rsplit(".", 1)[-1],
            "targetLink": self.self_link(service, target),
            "status": "PENDING",
            "user": f"skyql-emulator@{project}.iam.gserviceaccount.com",
            "progress": 0,
            "insertTime": stamp,
            "startTime": stamp,
            "selfLink": self.self_link(service, path),
        }
        if target_id is not None:
            fields["targetId"] = str(target_id)
        if scope != "global":
            fields[scope.split("/")[0][:-1]] = self.self_link(service, f"projects/{project}/{scope}")
        op = Operation(
            name=path,
            metadata={},
            done_after=self.config.operation_polls,
            error=op_error.rpc_status() if op_error else None,
            compute=fields,
        )
        with self.store.lock:
            self.store.operations[path] = op
        return op.render()

    def _compute_wait(self, match: Match) -> dict[str, Any]:
        """`POST .../operations/{operation}/wait`: compute's wait, answered when the operation is done."""
        name = "/".join(match.segments[:-1])
        with self.store.lock:
            op = self.store.operations.get(name)
            if op is None:
                raise not_found(f"The resource '{name}' was not found")
            op.polls = max(op.polls, op.done_after)
            return op.render()

    def _operation_call(self, match: Match, action: str, spec: CollectionSpec) -> dict[str, Any] | bytes:
        """operations.get/list/delete/cancel/wait: one store for every service, keyed by operation name."""
        verb = match.route.template.verb
        with self.store.lock:
            if action == "list":
                prefix = match.collection_path + "/"
                ops = [op.render() for name, op in self.store.operations.items() if name.startswith(prefix)]
                return {spec.items_key or "operations": ops} if ops else {}
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


# What Google fills in when a create leaves it out (a bucket with no location is a US multi-region one).
_CREATE_DEFAULTS = {
    "storage": {
        "location": "US",
        "locationType": "multi-region",
        "storageClass": "STANDARD",
        "rpo": "DEFAULT",
    }
}
_SEARCH_FIELDS = {
    "id": "projectId",
    "projectid": "projectId",
    "name": "displayName",
    "displayname": "displayName",
    "lifecyclestate": "state",
}


def _dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def project_number(project: str) -> str:
    """A project's number, the same wherever it appears (compute's project id, a bucket's projectNumber)."""
    return str(10**11 + int(hashlib.sha256(project.encode()).hexdigest(), 16) % (9 * 10**11))


def _is_service_accounts(spec: CollectionSpec) -> bool:
    """IAM v1 service accounts: known by their email, which the server makes from the client's accountId."""
    props = spec.schema.get("properties", {})
    return spec.literal == "serviceAccounts" and "email" in props and "uniqueId" in props


def _transfer_paths(match: Match) -> tuple[str, str, bool] | None:
    """(source item path, target item path, keep the source) of a custom method that names its target after
    a `...To` segment (storage's `b/{bucket}/o/{src}/moveTo/o/{dst}`, `.../copyTo/b/{b2}/o/{dst}`), else None."""
    if match.route.template.verb:
        return None
    lits = match.route.template.literals[match.route.template.prefix_len :]
    segs = match.segments
    at = next(
        (i for i, lit in enumerate(lits) if lit and lit.endswith("To") and i >= 2 and lits[i - 1] is None),
        None,
    )
    if at is None or len(lits) != len(segs) or lits[-1] is not None:
        return None
    source, tail = segs[:at], segs[at + 1 :]
    # `moveTo/o/{dst}` stays in the source's bucket; `copyTo/b/{b2}/o/{dst}` names its own from the root.
    target = tail if tail[0] == source[0] else source[:-2] + tail
    keep = not lits[at].startswith(("move", "rename"))
    return "/".join(source), "/".join(target), keep


def _is_literal_verb(match: Match) -> bool:
    """A custom method whose verb is a literal path segment right after an item (compute's `/stop`)."""
    lits = match.route.template.literals
    return (
        not match.route.template.verb
        and len(lits) > 2
        and lits[-1] is not None
        and lits[-2] is None
        and lits[-3] is not None
    )


def _is_compute_wait(match: Match) -> bool:
    return match.segments[-1:] == ["wait"] and match.route.method.discovery_id.endswith("perations.wait")


def _wrapped_item(svc: Any, schema: dict[str, Any], spec: CollectionSpec) -> str | None:
    """The field of a request message that holds the item itself, when the request is not the item."""
    if not spec.item_schema or schema is spec.schema or schema is svc.schema(spec.item_schema):
        return None
    found = [k for k, p in schema.get("properties", {}).items() if p.get("$ref") == spec.item_schema]
    return found[0] if len(found) == 1 else None
