"""Generate the google provider from Google's discovery documents.

Input: a folder of discovery documents named `<api>.<version>.json` (google-api-python-client ships
them in `googleapiclient/discovery_cache/documents`). Output: `providers/google/provider.json` (the
service index) and one gzipped JSON per service under `services/`, so a query on one service reads one file.
The output is a pure function of the input and of `overlay.json`: building twice gives identical bytes.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

from skyql.registry.idempotency import idempotency_keys
from skyql.registry.naming import (
    collection_resource_names,
    method_sql_verb,
    snake_case,
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


def choose_documents(src: Path) -> dict[str, Path]:
    """Map service name -> the discovery document of its chosen version."""
    best: dict[str, tuple[tuple, Path]] = {}
    for path in sorted(src.glob("*.json")):
        api, _, version = path.stem.partition(".")
        if not version:
            continue
        name = _family(api, version)
        rank = version_rank(version)
        if name not in best or rank > best[name][0]:
            best[name] = (rank, path)
    return {name: path for name, (_, path) in sorted(best.items())}


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


def _path_params(method: dict[str, Any]) -> tuple[str, list[tuple[str, bool]]]:
    """The URL template skyql fills, and its parameters (name, reserved)."""
    flat = method.get("flatPath")
    if flat:
        return flat, [(n, False) for n in re.findall(r"{([^}]+)}", flat)]
    path = method["path"]
    names = re.findall(r"{([+]?)([^}]+)}", path)
    return re.sub(r"{[+]", "{", path), [(n, plus == "+") for plus, n in names]


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


def _build_method(
    doc: dict[str, Any], key: str, m: dict[str, Any], item_ref: str | None, overlay: dict[str, Any]
) -> list[dict[str, Any]]:
    path, path_params = _path_params(m)
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
            [name, "query", bool(p.get("required")), _param_type(p), p.get("description", ""),
             bool(p.get("repeated")), False]
        )
    response = m.get("response", {}).get("$ref")
    resp_props = doc.get("schemas", {}).get(response or "", {}).get("properties", {})
    paging = "pageToken" in declared and "nextPageToken" in resp_props
    verb = method_sql_verb(key, m.get("httpMethod", "GET"))
    object_key = None
    if key == "getIamPolicy":
        object_key = "$.bindings"
    elif verb == "SELECT" and key != "get":
        object_key = _object_key(doc, response, item_ref)
    out = {
        "name": snake_case(key),
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
    out.update(overlay.get("methods", {}).get(out["id"], {}))
    methods = [out]
    if paging and verb == "SELECT":
        methods.append(dict(out, name="_" + out["name"], verb="EXEC", raw=True))
    return methods


def _walk(resources: dict[str, Any], prefix: tuple[str, ...] = ()):
    for key, res in sorted(resources.items()):
        path = prefix + (key,)
        if res.get("methods"):
            yield path, res["methods"]
        yield from _walk(res.get("resources", {}), path)


def build_service(name: str, doc: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """One discovery document -> skyql's compact service model (plain JSON data)."""
    collections = list(_walk(doc.get("resources", {})))
    groups: list[tuple[tuple[str, ...], dict[str, Any], bool]] = []
    for path, methods in collections:
        plain = {k: v for k, v in methods.items() if k not in IAM_METHODS}
        iam = {k: v for k, v in methods.items() if k in IAM_METHODS}
        if plain:
            groups.append((path, plain, False))
        if iam:
            groups.append((path, iam, True))
    names = collection_resource_names([(p, iam) for p, _, iam in groups])
    resources: dict[str, Any] = {}
    for (path, methods, _iam), rname in zip(groups, names, strict=True):
        get = methods.get("get", {})
        item_ref = get.get("response", {}).get("$ref")
        built: dict[str, Any] = {}
        for key, m in sorted(methods.items()):
            for method in _build_method(doc, key, m, item_ref, overlay):
                # What makes a lost POST safe to send again (an overlay entry wins): registry/idempotency.py.
                keys = idempotency_keys(doc, path, m, method["verb"])
                if keys and "idem" not in method:
                    method["idem"] = keys
                built[method["name"]] = method
        resources[rname] = {
            "collection": ".".join(path),
            "methods": dict(sorted(built.items())),
        }
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


def build_provider(src: Path, out: Path, overlay_path: Path | None = None) -> dict[str, Any]:
    """Build the whole google provider from `src` into `out`; return the index written."""
    overlay = json.loads(overlay_path.read_text()) if overlay_path and overlay_path.exists() else {}
    chosen = choose_documents(src)
    services_dir = out / "services"
    services_dir.mkdir(parents=True, exist_ok=True)
    for stale in services_dir.glob("*.json.gz"):
        if stale.name.removesuffix(".json.gz") not in chosen:
            stale.unlink()
    index_services = []
    revisions = []
    for name, path in chosen.items():
        doc = json.loads(path.read_text())
        model = build_service(name, doc, overlay.get("services", {}).get(name, {}))
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

