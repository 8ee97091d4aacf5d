"""Long-running operations as data: where to poll one, and whether it has finished."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from skyql.errors import ApiError, shown
from skyql.fetch.build import location_root
from skyql.fetch.request import Request
from skyql.registry.model import Service

_LOCATION = re.compile(r"(?:^|/)locations/([^/]+)/")


def is_done(operation: dict[str, Any]) -> bool:
    """Google's `done: true`, or compute's `status: DONE`."""
    return operation.get("done") is True or operation.get("status") == "DONE"


def poll_request(
    service: Service,
    operation: dict[str, Any],
    *,
    endpoint: str | None = None,
    resource: str = "",
    params: dict[str, Any] | None = None,
) -> Request:
    """The GET that reads `operation` again: {base}/{version}/{name}, or compute's selfLink."""
    context = {
        "resource": resource or f"{service.provider}.{service.name}.operations",
        "params": params or {},
    }
    self_link = operation.get("selfLink")
    if isinstance(self_link, str) and "status" in operation:
        # Only the path is taken from the server: the host stays the service's (or the endpoint's), so a
        # selfLink naming another host cannot send the token there. (Compute names www.googleapis.com.)
        path = urlsplit(self_link).path
        prefix = "/" + service.service_path
        if not path.startswith(prefix) or any(seg in (".", "..") for seg in path.split("/")):
            raise ApiError(
                f"{context['resource']}: the API returned an operation whose selfLink is not under"
                f" {prefix} ({shown(path)}); skyql polls operations of this service only"
            )
        root = urlsplit(service.root_url)
        if endpoint:
            return Request("GET", endpoint.rstrip("/") + path, host_header=root.hostname, **context)
        return Request("GET", f"{root.scheme}://{root.netloc}{path}", **context)
    name = operation.get("name")
    if not isinstance(name, str) or not name:
        raise ApiError(
            f"{context['resource']}: the API returned an operation without a name; cannot wait for it"
        )
    found = _LOCATION.search(name)
    root = location_root(service, found.group(1)) if found else service.root_url
    if any(seg in ("", ".", "..") for seg in name.split("/")):
        raise ApiError(f"{context['resource']}: the API returned an operation with an unusable name {name!r}")
    # The name is a resource path ('projects/p/operations/1'): keep its '/', encode the rest.
    path = (service.service_path or f"{service.version}/") + quote(name, safe="/")
    if endpoint:
        return Request(
            "GET", endpoint.rstrip("/") + "/" + path, host_header=urlsplit(root).hostname, **context
        )
    return Request("GET", root + path, **context)
