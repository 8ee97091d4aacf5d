"""Which service a request is for: by Host header, else by path, loading only the services that may match."""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from skyql.emulator.routing import Match, ServiceRouter, parse_template
from skyql.registry import Registry
from skyql.registry.loader import Provider
from skyql.registry.naming import snake_case

_GOOGLEAPIS = ".googleapis.com"
RESOLVED_CACHE = 10_000
_RESOURCE_SUFFIX = re.compile(r"(_iam_policies)?(_\d+)?$")


class ServiceIndex:
    """Routers per service (built lazily), and the cross-service lookup that picks one for a path."""

    def __init__(
        self, registry: Registry, provider: str = "google", prefer: Sequence[str] = ("aiplatform", "ml")
    ) -> None:
        self.provider = registry.provider(provider)
        self.prefer = list(prefer)
        # Routes depend on the provider alone: emulators over one registry share them (tests start many).
        shared = _SHARED.setdefault(self.provider, _Shared())
        self._routers = shared.routers
        self._by_token = shared.by_token
        self._resolved = shared.resolved
        self._shared = shared
        self._lock = shared.lock

    @property
    def names(self) -> list[str]:
        return list(self.provider.service_index)

    def router(self, name: str) -> ServiceRouter:
        router = self._routers.get(name)
        if router is None:
            with self._lock:
                router = self._routers.get(name)
                if router is None:
                    router = self._routers[name] = ServiceRouter.build(self.provider.service(name))
        return router

    def service_from_host(self, host: str | None) -> str | None:
        """`aiplatform.googleapis.com` or `us-central1-aiplatform.googleapis.com` -> aiplatform."""
        if not host:
            return None
        host = host.lower().rsplit(":", 1)[0] if not host.startswith("[") else host.lower()
        if not host.endswith(_GOOGLEAPIS):
            return None
        label = host[: -len(_GOOGLEAPIS)].split(".", 1)[0]
        names = self.provider.service_index
        if label in names:
            return label
        for i, ch in enumerate(label):
            if ch == "-" and label[i + 1 :] in names:
                return label[i + 1 :]
        return None

    def resolve(
        self, http: str, host: str | None, path: str, holds_data: Callable[[Match], bool]
    ) -> tuple[Match | None, list[str]]:
        """The route for a request, or (None, verbs that path answers to) when nothing matches."""
        named = self.service_from_host(host)
        if named is not None:
            router = self.router(named)
            match = router.match(http, path)
            svc_path = router.service.service_path
            if match is None and svc_path and not path.startswith(svc_path):
                # A client given api_endpoint drops servicePath (google-api-python-client does).
                match = router.match(http, svc_path + path)
            return (match, []) if match else (None, router.verbs_for(path))
        known = self._resolved.get((http, path))
        if known is not None:
            # The set of services with a route for a path never changes; only the preference among them may.
            return self._choose(self._match_in(known, http, path), holds_data), []
        candidates = self._candidates(path)
        quick = self._quick(candidates, http, path, holds_data)
        if quick is not None:
            return quick, []
        matches = self._match_in(candidates, http, path)
        if not matches:
            verbs = sorted({v for name in candidates for v in self.router(name).verbs_for(path)})
            if verbs:
                return None, verbs
            services, verbs = self._scan_all(http, path)
            matches = self._match_in(services, http, path)
            if not matches:
                return None, verbs
        if len(self._resolved) > RESOLVED_CACHE:
            self._resolved.clear()
        self._resolved[(http, path)] = [m.route.service for m in matches]
        return self._choose(matches, holds_data), []

    def _quick(
        self, candidates: list[str], http: str, path: str, holds_data: Callable[[Match], bool]
    ) -> Match | None:
        """The choice `_choose` would make, found without loading every candidate service when possible.

        A service holding data has been loaded already, so the loaded ones decide the first rule; with no
        data anywhere, a preferred service that matches wins whatever the others are.
        """
        loaded = [name for name in candidates if name in self._routers]
        holders = [m for m in self._match_in(loaded, http, path) if holds_data(m)]
        if holders:
            return self._choose(holders, holds_data)
        for name in self.prefer:
            if name in candidates:
                match = self.router(name).match(http, path)
                if match is not None:
                    return match
        return None

    def _match_in(self, services: Sequence[str], http: str, path: str) -> list[Match]:
        out = []
        for name in services:
            match = self.router(name).match(http, path)
            if match is not None:
                out.append(match)
        return out

    def _choose(self, matches: list[Match], holds_data: Callable[[Match], bool]) -> Match:
        if len(matches) == 1:
            return matches[0]
        with_data = [m for m in matches if holds_data(m)]
        pool = with_data or matches
        for name in self.prefer:
            for m in pool:
                if m.route.service == name:
                    return m
        return min(pool, key=lambda m: m.route.service)

    def _candidates(self, path: str) -> list[str]:
        """Services with a collection named like one of the path's last two segments (from provider.json)."""
        segs = path.split("/")
        tail = [s.split(":", 1)[0] for s in segs[-2:]]
        seen: dict[str, None] = {}
        for seg in tail:
            token = snake_case(seg)
            if not token:
                continue
            if token not in self._by_token:
                self._by_token[token] = [
                    s["name"]
                    for s in self.provider.index["services"]
                    if any(_names_collection(r, token) for r in s["resources"])
                ]
            for name in self._by_token[token]:
                seen.setdefault(name, None)
        return list(seen)

    def _scan_all(self, http: str, path: str) -> tuple[list[str], list[str]]:
        """Every service with a route for `path` and `http`, and every verb that path answers to."""
        index = self._full_index()
        nsegs = path.count("/") + 1
        services: dict[str, None] = {}
        verbs: set[str] = set()
        for (verb, n), entries in index.items():
            if n != nsegs:
                continue
            for regex, name in entries:
                if regex.fullmatch(path):
                    verbs.add(verb)
                    if verb == http:
                        services.setdefault(name, None)
        return list(services), sorted(verbs)

    def _full_index(self) -> dict[tuple[str, int], list[tuple[re.Pattern[str], str]]]:
        if self._shared.all is None:
            with self._lock:
                if self._shared.all is None:
                    self._shared.all = _build_full_index(self.provider)
        return self._shared.all


@dataclass
class _Shared:
    routers: dict[str, ServiceRouter] = field(default_factory=dict)
    by_token: dict[str, list[str]] = field(default_factory=dict)
    resolved: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    all: dict[tuple[str, int], list[tuple[re.Pattern[str], str]]] | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)


_SHARED: weakref.WeakKeyDictionary[Provider, _Shared] = weakref.WeakKeyDictionary()


def _names_collection(resource: str, token: str) -> bool:
    base = _RESOURCE_SUFFIX.sub("", resource)
    return base == token or base.endswith("_" + token)


def _build_full_index(provider: Provider) -> dict[tuple[str, int], list[tuple[re.Pattern[str], str]]]:
    """Every template of every service, read through a throwaway Provider so the services are not kept."""
    scratch = Provider(provider.root)
    by_text: dict[tuple[str, str], list[str]] = {}
    for name in scratch.service_index:
        svc = scratch.service(name)
        for res in svc.resources.values():
            for m in res.methods.values():
                if not m.raw:
                    by_text.setdefault((m.http_method, svc.service_path + m.path), []).append(name)
    index: dict[tuple[str, int], list[tuple[re.Pattern[str], str]]] = {}
    compiled: dict[str, re.Pattern[str]] = {}
    for (http, text), names in sorted(by_text.items()):
        if text not in compiled:
            compiled[text] = parse_template(text).regex
        tpl_segs = text.count("/") + 1
        for name in dict.fromkeys(names):
            index.setdefault((http, tpl_segs), []).append((compiled[text], name))
    return index
