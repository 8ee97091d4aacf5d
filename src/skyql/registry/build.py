"""Generate the google provider from Google's discovery documents.

Input: a folder of discovery documents named `<api>.<version>.json` (google-api-python-client ships
them in `googleapiclient/discovery_cache/documents`). Output: `providers/google/provider.json` (the
service index) and one gzipped JSON per service under `services/`, so a query on one service reads one file.
The output is a pure function of the input and of `overlay.json`: building twice gives identical bytes.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyql.registry.idempotency import idempotency_keys
from skyql.registry.loader import default_providers_dir
from skyql.registry.naming import (
    collection_resource_names,
    method_sql_verb,
    snake_case,
)
from skyql.registry.stackql import (
    GENERIC,
    SQL_VERBS,
    derived_path,
    load_names,
    match_methods,
    placeholders,
    shape,
    sql_name,
    sql_verb_of,
)

IAM_METHODS = {"getIamPolicy", "setIamPolicy", "testIamPermissions"}
SCHEMA_KEYS = (
    "type",
    "format",
    "description",
    "properties",
    "items",
    "$ref",
    "additionalProperties",
    "enum",
    "readOnly",
    "pattern",
)
NAMES_FILE = "stackql-names.json.gz"
_STABLE = re.compile(r"^v\d+(\.\d+)?$")


def version_rank(version: str) -> tuple:
    """Sort key: stable before beta before alpha/preview, then newest first within each."""
    core = version.rsplit("_", 1)[-1]
    stability = 2 if _STABLE.match(core) else 1 if "beta" in core else 0
    numbers = tuple(int(n) for n in re.findall(r"\d+", core))
    return (stability, numbers)


def _family(api: str, version: str) -> str:
    """Service name: `admin.directory_v1` is the `admin_directory` service, not one of three `admin`s."""
    if "_" in version:
        return f"{api}_{version.rsplit('_', 1)[0]}"
    return api


def stackql_names_path(out: Path) -> Path:
    """StackQL's names file: beside the output if it has one, else the checkout's (a build input)."""
    beside = out / NAMES_FILE
    return beside if beside.exists() else default_providers_dir() / "google" / NAMES_FILE


def stackql_version(name: str, entry: dict[str, Any]) -> tuple[str, str] | None:
    """(api, version) of the discovery document StackQL serves as service `name`, if it names one."""
    version = entry.get("version") or ""
    if not version or version == "None":
        return None
    api = name.removesuffix(version) if name.endswith(version) and name != version else name
    return api, version


def choose_documents(src: Path, stackql: dict[str, Any] | None = None) -> dict[str, Path]:
    """Map service name -> the discovery document of its chosen version.

    The version StackQL serves where it names one (IAM v1, DNS v1; `iamv2` is IAM v2, `speechv2` Speech
    v2: a service named `<api><version>`); else the newest stable, then beta, then anything.
    """
    best: dict[str, tuple[tuple, Path]] = {}
    documents: dict[tuple[str, str], Path] = {}
    for path in sorted(src.glob("*.json")):
        api, _, version = path.stem.partition(".")
        if not version:
            continue
        documents[(api, version)] = path
        name = _family(api, version)
        rank = version_rank(version)
        if name not in best or rank > best[name][0]:
            best[name] = (rank, path)
    chosen = {name: path for name, (_, path) in best.items()}
    for name, entry in (stackql or {}).items():
        wanted = stackql_version(name, entry)
        if wanted in documents:
            chosen[name] = documents[wanted]
    return dict(sorted(chosen.items()))


def _compact_schema(schema: Any) -> Any:
    """Keep what SQL, the loader and the emulator need; drop enumDescriptions, ids and the like."""
    if isinstance(schema, dict):
        out = {}
        for key in SCHEMA_KEYS:
            if key not in schema:
                continue
            value = schema[key]
            if key == "properties":
                out[key] = {k: _compact_schema(v) for k, v in value.items()}
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                out[key] = _compact_schema(value)
            else:
                out[key] = value
        return out
    return schema


def _param_type(p: dict[str, Any]) -> str:
    t = p.get("type", "string")
    if t == "string" and p.get("format") in ("int64", "uint64", "int32"):
        return "integer"
    return t if t in ("string", "integer", "number", "boolean") else "string"


def _path_params(
    method: dict[str, Any], template: str | None = None, service: str = ""
) -> tuple[str, list[tuple[str, bool]]]:
    """The URL template skyql fills, and its parameters (name, reserved).

    `template` is StackQL's path for the method when it has one (a match on the discovery path, whose
    `{+name}` parameters may hold '/', or on its flatPath, one segment per parameter); else the derived one.
    """
    template = (template or derived_path(method, service)).lstrip("/")
    names = [name for name, _ in placeholders(template)]
    by_path = dict(placeholders(method["path"]))
    flat = method.get("flatPath")
    # A name that is a `{+name}` of the discovery path and not a segment of its flatPath spans segments.
    flat_names = {name for name, _ in placeholders(flat)} if flat else set()
    # A lone generic segment ({v1Id}) stands for a whole `{+name}`: its value holds '/' too (iap's settings).
    return template, [
        (
            n,
            (by_path.get(n, False) and n not in flat_names and shape(template) != shape(flat or ""))
            or bool(GENERIC.match(n)),
        )
        for n in names
    ]


def _object_key(doc: dict[str, Any], response: str | None, preferred_item: str | None) -> str | None:
    """The array property of a list response that holds the rows (StackQL's objectKey)."""
    props = doc.get("schemas", {}).get(response or "", {}).get("properties", {})
    # Rows are objects: items by $ref, or inline object schemas (BigQuery's lists).
    arrays = [
        (name, prop["items"].get("$ref"))
        for name, prop in props.items()
        if prop.get("type") == "array"
        and ("$ref" in prop.get("items", {}) or prop.get("items", {}).get("type") == "object")
    ]
    if not arrays:
        return None
    for name, ref in arrays:
        if ref == preferred_item:
            return f"$.{name}"
    return f"$.{arrays[0][0]}"


def _is_operation(doc: dict[str, Any], ref: str | None) -> bool:
    props = doc.get("schemas", {}).get(ref or "", {}).get("properties", {})
    if {"status", "selfLink", "targetLink", "operationType"} <= props.keys():
        return True  # compute's Operation: polled by its selfLink until `status` is DONE
    return {"name", "done"} <= props.keys() and ("response" in props or "error" in props)


@dataclass(frozen=True)
class Naming:
    """What to call one discovery method: StackQL's name, path and verb where it has them."""

    name: str
    path: str | None = None  # StackQL's URL template; None derives it
    verb: str | None = None  # the SQL verb; None derives it from the discovery method
    object_key: str | None = None
    required: tuple[str, ...] = ()


def _build_method(
    doc: dict[str, Any],
    key: str,
    m: dict[str, Any],
    item_ref: str | None,
    overlay: dict[str, Any],
    naming: Naming | None = None,
) -> list[dict[str, Any]]:
    naming = naming or Naming(snake_case(key))
    path, path_params = _path_params(m, naming.path, doc.get("name", ""))
    declared = m.get("parameters", {})
    params = []
    # A flatPath names its own segments; the `name`/`parent` parameters they replace are not repeated.
    for name, reserved in path_params:
        p = declared.get(name, {})
        params.append([name, "path", True, _param_type(p), p.get("description", ""), False, reserved])
    for name, p in sorted(declared.items()):
        if p.get("location") != "query":
            continue
        params.append(
            [
                name,
                "query",
                bool(p.get("required")) or name in naming.required,
                _param_type(p),
                p.get("description", ""),
                bool(p.get("repeated")),
                False,
            ]
        )
    response = m.get("response", {}).get("$ref")
    resp_props = doc.get("schemas", {}).get(response or "", {}).get("properties", {})
    paging = "pageToken" in declared and "nextPageToken" in resp_props
    verb = naming.verb or method_sql_verb(key, m.get("httpMethod", "GET"))
    object_key = naming.object_key
    if key == "getIamPolicy":
        object_key = "$.bindings"
    elif verb == "SELECT" and key != "get" and object_key is None:
        object_key = _object_key(doc, response, item_ref)
    out = {
        "name": naming.name,
        "id": m.get("id", key),
        "http": m.get("httpMethod", "GET"),
        "path": path,
        "params": params,
        "verb": verb,
        "desc": m.get("description", ""),
        "req": m.get("request", {}).get("$ref"),
        "resp": response,
        "key": object_key,
        "paging": paging,
        "lro": _is_operation(doc, response),
    }
    # `why` says where a correction is documented; it is not a field of the method.
    out.update({k: v for k, v in overlay.get("methods", {}).get(out["id"], {}).items() if k != "why"})
    methods = [out]
    if paging and verb == "SELECT" and key in ("list", "aggregatedList"):
        methods.append(dict(out, name="_" + out["name"], verb="EXEC", raw=True))
    return methods


def _walk(resources: dict[str, Any], prefix: tuple[str, ...] = ()):
    for key, res in sorted(resources.items()):
        path = prefix + (key,)
        if res.get("methods"):
            yield path, res["methods"]
        yield from _walk(res.get("resources", {}), path)


def _item_ref(collections: dict[tuple[str, ...], dict[str, Any]], path: tuple[str, ...]) -> str | None:
    return collections.get(path, {}).get("get", {}).get("response", {}).get("$ref")


def _stackql_resources(
    doc: dict[str, Any],
    stackql: dict[str, Any],
    collections: dict[tuple[str, ...], dict[str, Any]],
    overlay: dict[str, Any],
) -> tuple[dict[str, Any], set[tuple[tuple[str, ...], str]]]:
    """The resources StackQL has, named as StackQL names them; and the discovery methods they use."""
    resources: dict[str, Any] = {}
    used: set[tuple[tuple[str, ...], str]] = set()
    for (rname, mname), match in sorted(
        match_methods(stackql, list(collections.items()), doc.get("name", "")).items()
    ):
        sq_res = stackql["resources"][rname]
        sq = sq_res["methods"][mname]
        naming = Naming(
            sql_name(mname),
            sq["path"],
            sql_verb_of(sq_res, mname) or "EXEC",
            sq.get("objectKey"),
            tuple(sq.get("required", ())),
        )
        res = resources.setdefault(rname, {"collection": ".".join(match.collection), "methods": {}})
        item = _item_ref(collections, match.collection)
        for method in _build_method(doc, match.key, match.method, item, overlay, naming):
            res["methods"][method["name"]] = method
        used.add((match.collection, match.key))
    for rname, res in resources.items():
        verbs = stackql["resources"][rname].get("sqlVerbs", {})
        res["order"] = {
            v.upper(): [sql_name(m) for m in verbs.get(v, []) if sql_name(m) in res["methods"]]
            for v in SQL_VERBS
        }
    return resources, used


Group = tuple[str | None, tuple[str, ...], dict[str, Any], str | None]


def _derived_groups(
    collections: dict[tuple[str, ...], dict[str, Any]],
    used: set[tuple[tuple[str, ...], str]],
    known: set[str],
    homes: dict[tuple[str, ...], str],
) -> list[Group]:
    """Discovery methods StackQL's file does not map, grouped as resources: (name or None, collection,
    methods, SQL verb of a split method or None).

    A method of a collection one of StackQL's resources is made of (`homes`) joins that resource. Where the
    file has resource names only (compute), a collection joins the resource of its name, or of its name
    without compute's `region_`/`global_`/`zone_`; a custom method StackQL serves as a resource of its own
    (`instances_screenshot`, `instances_access_config`, `backend_services_aggregated`) is also a group of
    one there. Anything else is named by `collection_resource_names`.
    """
    groups: list[Group] = []
    for path, methods in sorted(collections.items()):
        left = {k: v for k, v in methods.items() if (path, k) not in used}
        if not left:
            continue
        home = homes.get(path)
        base = home or (None if homes else _known_base(snake_case(path[-1]), known))
        for key, m in sorted(left.items()):
            split = _split_resource(base, key, m, known) if base and not homes else None
            if split:
                groups.append((split[0], path, {key: m}, split[1]))
        plain = {k: v for k, v in left.items() if k not in IAM_METHODS}
        iam = {k: v for k, v in left.items() if k in IAM_METHODS}
        if plain:
            groups.append((base, path, plain, None))
        if iam:
            # Never into the base resource: a policy's rows (role, members) are not the resource's.
            named = f"{base}_iam_policies" if base and f"{base}_iam_policies" in known else None
            groups.append((named, path, iam, "IAM"))
    return groups


def _collection_of(method_id: str, collections: dict[tuple[str, ...], dict[str, Any]]) -> tuple[str, ...]:
    """The collection path of a discovery method id (`logging.projects.sinks.list` -> projects.sinks)."""
    for path, methods in collections.items():
        if any(m.get("id") == method_id for m in methods.values()):
            return path
    return ()


def _known_base(name: str, known: set[str]) -> str | None:
    """StackQL's resource for a collection: its own name, or without compute's region/global/zone prefix."""
    for candidate in (name, *(name.removeprefix(p) for p in ("region_", "global_", "zone_"))):
        if candidate in known:
            return candidate
    return None


# A custom method's leading verb -> the SQL verb it serves in a resource of its own.
_SPLIT_VERBS = {
    "get": "SELECT",
    "list": "SELECT",
    "add": "INSERT",
    "create": "INSERT",
    "insert": "INSERT",
    "remove": "DELETE",
    "delete": "DELETE",
    "update": "UPDATE",
    "patch": "UPDATE",
}


def _split_resource(base: str, key: str, m: dict[str, Any], known: set[str]) -> tuple[str, str] | None:
    """StackQL's resource of its own for a custom method, and the SQL verb it serves there: compute's
    `instances.getScreenshot` -> instances_screenshot (SELECT), `addAccessConfig` -> instances_access_config
    (INSERT), `routers.getNatIpInfo` -> router_nat_ip_info, `aggregatedList` -> `<resource>_aggregated`."""
    if key == "aggregatedList":
        return (f"{base}_aggregated", "SELECT") if f"{base}_aggregated" in known else None
    head = re.match(r"^([a-z]+)(?=[A-Z])", key)
    if key in IAM_METHODS or not head or head.group(1) not in _SPLIT_VERBS:
        return None
    what = snake_case(key[head.end() :]).split("_")
    tails = ["_".join(what[i:]) for i in range(len(what))]
    singular = base.removesuffix("s")
    for candidate in (*(f"{base}_{t}" for t in tails), *(f"{singular}_{t}" for t in tails), *tails):
        if candidate in known:
            return candidate, _SPLIT_VERBS[head.group(1)]
    return None


def _verb_order(methods: dict[str, Any]) -> dict[str, list[str]]:
    """Method order per SQL verb for resources StackQL does not have: the most specific (most required
    parameters) first, so the first whose parameters the statement gives is the one meant."""
    rank = {"get": 0, "list": 1}
    order: dict[str, list[str]] = {}
    for verb in ("SELECT", "INSERT", "UPDATE", "REPLACE", "DELETE"):
        chosen = [m for m in methods.values() if m["verb"] == verb and not m.get("raw")]
        chosen.sort(
            key=lambda m: (
                -sum(1 for p in m["params"] if p[2]),
                rank.get(m["name"].rsplit("_", 1)[-1], 2),
                m["name"],
            )
        )
        order[verb] = [m["name"] for m in chosen]
    return order


def _add_parameters(doc: dict[str, Any], added: dict[str, Any]) -> None:
    """Overlay `parameters`: a parameter Google's API takes but the shipped discovery document omits, added to
    each method whose id matches one of its `methods` globs (`compute.*.list`), unless the method declares it
    (`why` says where the parameter is documented)."""
    for name, spec in sorted(added.items()):
        patterns = spec.get("methods", [])
        declared = {k: v for k, v in spec.items() if k not in ("methods", "why")}
        for _, methods in _walk(doc.get("resources", {})):
            for m in methods.values():
                params = m.setdefault("parameters", {})
                if name not in params and any(fnmatch.fnmatchcase(m.get("id", ""), p) for p in patterns):
                    params[name] = dict(declared)


def build_service(
    name: str, doc: dict[str, Any], overlay: dict[str, Any], stackql: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One discovery document -> skyql's compact service model (plain JSON data), in StackQL's names."""
    _add_parameters(doc, overlay.get("parameters", {}))
    collections = dict(_walk(doc.get("resources", {})))
    stackql = stackql or {}
    resources, used = _stackql_resources(doc, stackql, collections, overlay)
    known = set(stackql.get("resources") or {})
    # A collection all of whose mapped methods are in one StackQL resource: that resource's home.
    owners: dict[tuple[str, ...], set[str]] = {}
    for rname, res in resources.items():
        for method in res["methods"].values():
            owners.setdefault(_collection_of(method["id"], collections), set()).add(rname)
    homes = {path: next(iter(names)) for path, names in owners.items() if len(names) == 1}
    groups = _derived_groups(collections, used, known, homes)
    free = [(path, verb == "IAM") for rname, path, _, verb in groups if rname is None]
    derived = iter(collection_resource_names(free, taken=set(resources) | known))
    for rname, path, methods, verb in groups:
        rname = rname or next(derived)
        res = resources.setdefault(rname, {"collection": ".".join(path), "methods": {}})
        # A collection merged into a resource of another name keeps its methods apart by a prefix.
        prefix = "" if res["collection"] == ".".join(path) else snake_case(path[-1]) + "_"
        for key, m in sorted(methods.items()):
            naming = Naming(prefix + snake_case(key), verb=verb if verb != "IAM" else None)
            if naming.name in res["methods"]:
                continue
            for method in _build_method(doc, key, m, _item_ref(collections, path), overlay, naming):
                res["methods"].setdefault(method["name"], method)
    for res in resources.values():
        if "order" in res:
            # Methods the file does not map (newer than StackQL's snapshot) go after StackQL's.
            for verb, names in _verb_order(res["methods"]).items():
                res["order"][verb] += [n for n in names if n not in res["order"][verb]]
        else:
            res["order"] = _verb_order(res["methods"])
        res["methods"] = dict(sorted(res["methods"].items()))
        res["order"] = {v: names for v, names in res["order"].items() if names}
    # What makes a lost POST safe to send again (an overlay entry wins): registry/idempotency.py.
    by_id = {m.get("id"): (path, m) for path, methods in collections.items() for m in methods.values()}
    for res in resources.values():
        for method in res["methods"].values():
            if "idem" in method or method["id"] not in by_id:
                continue
            path, m = by_id[method["id"]]
            keys = idempotency_keys(doc, path, m, method["verb"])
            if keys:
                method["idem"] = keys
    schemas = {k: _compact_schema(v) for k, v in sorted(doc.get("schemas", {}).items())}
    endpoints = {
        e["location"]: e["endpointUrl"]
        for e in doc.get("endpoints", [])
        if e.get("location") and e.get("endpointUrl")
    }
    return {
        "name": name,
        "version": doc.get("version", ""),
        "title": doc.get("title", ""),
        "description": doc.get("description", ""),
        "root_url": doc.get("rootUrl", ""),
        "service_path": doc.get("servicePath", ""),
        "endpoints": dict(sorted(endpoints.items())),
        "resources": dict(sorted(resources.items())),
        "schemas": schemas,
    }


def build_provider(
    src: Path, out: Path, overlay_path: Path | None = None, names_path: Path | None = None
) -> dict[str, Any]:
    """Build the whole google provider from `src` into `out`; return the index written.

    `names_path` is StackQL's names file (default: `stackql-names.json.gz` beside the output).
    """
    overlay = json.loads(overlay_path.read_text()) if overlay_path and overlay_path.exists() else {}
    names = load_names(names_path or stackql_names_path(out))
    chosen = choose_documents(src, names)
    services_dir = out / "services"
    services_dir.mkdir(parents=True, exist_ok=True)
    for stale in services_dir.glob("*.json.gz"):
        if stale.name.removesuffix(".json.gz") not in chosen:
            stale.unlink()
    index_services = []
    revisions = []
    for name, path in chosen.items():
        doc = json.loads(path.read_text())
        model = build_service(name, doc, overlay.get("services", {}).get(name, {}), names.get(name))
        data = json.dumps(model, separators=(",", ":"), sort_keys=False).encode()
        # mtime=0 keeps the gzip bytes reproducible.
        (services_dir / f"{name}.json.gz").write_bytes(gzip.compress(data, 9, mtime=0))
        revisions.append(doc.get("revision", ""))
        index_services.append(
            {
                "name": name,
                "id": f"{name}:{model['version']}",
                "version": model["version"],
                "title": model["title"],
                "description": model["description"],
                "resources": sorted(model["resources"]),
            }
        )
    newest = max((r for r in revisions if r), default="00000000")
    index = {
        "name": "google",
        # Provider version from the newest discovery revision: reproducible, and it moves when Google's does.
        "version": f"v{newest[2:4]}.{newest[4:6]}.{newest[6:8]}",
        "services": index_services,
    }
    (out / "provider.json").write_text(json.dumps(index, indent=1, sort_keys=False) + "\n")
    return index
