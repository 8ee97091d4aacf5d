"""Names the completer offers, read from the registry lazily and cached.

Provider, service and resource names come from each provider's index (no service file is loaded); columns,
parameters and methods load one service the first time a statement names one of its resources.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from skyql.errors import SkyqlError
from skyql.registry import Registry, Resource


@dataclass(frozen=True)
class Name:
    """A completable name and the short note shown beside it."""

    name: str
    meta: str = ""


class Catalog:
    """The registry as the completer sees it; safe to call from the completion thread."""

    def __init__(self, registry: Registry | Callable[[], Registry]) -> None:
        # A callable lets the shell follow the session when REGISTRY PULL swaps its registry.
        self._source = registry if callable(registry) else (lambda: registry)
        self._seen: Registry | None = None
        self._lock = threading.RLock()
        self._resources: dict[str, Resource | None] = {}

    def _registry(self) -> Registry:
        registry = self._source()
        if registry is not self._seen:
            with self._lock:
                self._seen = registry
                self._resources = {}
        return registry

    def providers(self) -> list[Name]:
        return [Name(p, "provider") for p in self._registry().provider_names]

    def services(self, provider: str) -> list[Name]:
        registry = self._registry()
        if provider not in registry.provider_names:
            return []
        with self._lock:
            index = registry.provider(provider).index
        return [Name(s["name"], s.get("title", "")) for s in index["services"]]

    def resources(self, provider: str, service: str) -> list[Name]:
        registry = self._registry()
        if provider not in registry.provider_names:
            return []
        with self._lock:
            entry = registry.provider(provider).service_index.get(service)
        return [Name(r, "resource") for r in entry["resources"]] if entry else []

    def resource(self, dotted: str) -> Resource | None:
        """The resource `provider.service.resource`, or None when there is no such thing."""
        registry = self._registry()
        with self._lock:
            if dotted not in self._resources:
                try:
                    self._resources[dotted] = registry.lookup(dotted)
                except SkyqlError:
                    self._resources[dotted] = None
            return self._resources[dotted]

    def is_provider(self, name: str) -> bool:
        return name in self._registry().provider_names

    def warm(self) -> None:
        """Load every provider's index now, so the first `google.` completes at once."""
        for provider in self._registry().provider_names:
            self.services(provider)
