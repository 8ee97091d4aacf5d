"""Load providers from disk: the service index eagerly, a service's file only when it is used."""

from __future__ import annotations

import gzip
import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from skyql.errors import NotFoundError, did_you_mean, shown
from skyql.registry.model import Method, Param, Resource, Service


def default_providers_dir() -> Path:
    """`SKYQL_PROVIDERS_DIR`, else `providers/` inside the package (a wheel), else the checkout's."""
    env = os.environ.get("SKYQL_PROVIDERS_DIR")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent.parent
    bundled = package / "providers"
    return bundled if bundled.is_dir() else package.parent.parent / "providers"


class Provider:
    """One provider (google): its index, and the services it has loaded so far."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._services: dict[str, Service] = {}

    @cached_property
    def index(self) -> dict[str, Any]:
        return json.loads((self.root / "provider.json").read_text())

    @property
    def name(self) -> str:
        return self.index["name"]

    @property
    def version(self) -> str:
        return self.index["version"]

    @cached_property
    def service_index(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.index["services"]}

    def service(self, name: str) -> Service:
        if name not in self._services:
            if name not in self.service_index:
                raise NotFoundError(
                    f"unknown service {self.name}.{shown(name)}"
                    + did_you_mean(name, self.service_index)
                    + f"; SHOW SERVICES IN {self.name} lists them"
                )
            path = self.root / "services" / f"{name}.json.gz"
            self._services[name] = service_from_json(
                self.name, json.loads(gzip.decompress(path.read_bytes()))
            )
        return self._services[name]


class Registry:
    """Every provider under a folder (providers/<name>/provider.json), resolved by dotted names."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_providers_dir()
        self._providers: dict[str, Provider] = {}

    @cached_property
    def provider_names(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/provider.json"))

    def provider(self, name: str) -> Provider:
        if name not in self._providers:
            if name not in self.provider_names:
                raise NotFoundError(
                    f"unknown provider {shown(name)}"
                    + did_you_mean(name, self.provider_names)
                    + "; SHOW PROVIDERS lists them"
                )
            self._providers[name] = Provider(self.root / name)
        return self._providers[name]

    def service(self, provider: str, service: str) -> Service:
        return self.provider(provider).service(service)

    def resource(self, provider: str, service: str, resource: str) -> Resource:
        svc = self.service(provider, service)
        if resource not in svc.resources:
            alias = svc.alias(resource)
            if alias is not None:
                return alias
            raise NotFoundError(
                f"unknown resource {provider}.{service}.{shown(resource)}"
                + did_you_mean(
                    f"{provider}.{service}.{resource}",
                    [f"{provider}.{service}.{r}" for r in svc.resources],
                )
                + f"; SHOW RESOURCES IN {provider}.{service} lists them"
            )
        return svc.resources[resource]

    def method(self, provider: str, service: str, resource: str, method: str) -> Method:
        res = self.resource(provider, service, resource)
        found = res.find_method(method)
        if found is None:
            raise NotFoundError(
                f"unknown method {res.id}.{method}"
                + did_you_mean(method, res.methods)
                + f"; SHOW METHODS IN {res.id} lists them"
            )
        return found

    def lookup(self, dotted: str) -> Resource:
        """Resolve 'google.aiplatform.hyperparameter_tuning_jobs' to its resource."""
        parts = split_name(dotted, 3)
        return self.resource(*parts)


def split_name(dotted: str, count: int) -> list[str]:
    """Split a dotted name into exactly `count` non-empty parts, or raise a NotFoundError."""
    parts = dotted.split(".")
    if len(parts) != count or not all(parts):
        kinds = {
            1: "provider",
            2: "provider.service",
            3: "provider.service.resource",
            4: "provider.service.resource.method",
        }
        raise NotFoundError(f"malformed name {dotted!r}: expected {kinds[count]}, e.g. google.ml.jobs")
    return parts


def _compute_operation(schema: dict[str, Any]) -> bool:
    """Compute's Operation (no `done`: a `status` that ends DONE, a `selfLink` to poll) is long-running too;
    providers generated before build.py knew it say so here."""
    return {"status", "selfLink", "targetLink", "operationType"} <= schema.get("properties", {}).keys()


def _scoped_key(svc: Service, response: str | None) -> str | None:
    """`instances` for compute's InstanceAggregatedList: `items` maps a scope to {instances: [...], warning}."""
    items = svc.schema(response).get("properties", {}).get("items", {})
    scoped = svc.resolve(items.get("additionalProperties", {}))
    arrays = [k for k, p in scoped.get("properties", {}).items() if p.get("type") == "array"]
    return arrays[0] if len(arrays) == 1 else None


def service_from_json(provider: str, data: dict[str, Any]) -> Service:
    svc = Service(
        name=data["name"],
        provider=provider,
        version=data["version"],
        title=data.get("title", ""),
        description=data.get("description", ""),
        root_url=data.get("root_url", ""),
        service_path=data.get("service_path", ""),
        endpoints=data.get("endpoints", {}),
        schemas=data.get("schemas", {}),
    )
    for rname, r in data["resources"].items():
        res = Resource(
            name=rname,
            service=svc,
            collection=r["collection"],
            description=r.get("desc", ""),
            order=r.get("order", {}),
        )
        for mname, m in r["methods"].items():
            res.methods[mname] = Method(
                name=mname,
                discovery_id=m["id"],
                http_method=m["http"],
                path=m["path"],
                params=tuple(Param(*p) for p in m["params"]),
                sql_verb=m["verb"],
                description=m.get("desc", ""),
                request_schema=m.get("req"),
                response_schema=m.get("resp"),
                object_key=m.get("key"),
                paging=m.get("paging", False),
                returns_operation=m.get("lro", False) or _compute_operation(svc.schema(m.get("resp"))),
                raw=m.get("raw", False),
                scoped_key=None if m.get("key") or not m.get("paging") else _scoped_key(svc, m.get("resp")),
                idempotency_keys=tuple((where, name) for where, name in m.get("idem", ())),
            )
        svc.resources[rname] = res
    return svc
