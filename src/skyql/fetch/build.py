"""Method + parameter values -> Request: the one place that builds URLs."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

from skyql.errors import ParameterError
from skyql.fetch.request import Request
from skyql.registry.model import PARENT, PARENT_TYPE, Method, Service

# `{name}` from a flatPath, `{+name}` from a reserved-expansion path.
_PLACEHOLDER = re.compile(r"\{(\+?)([A-Za-z0-9_.]+)\}")
# Path parameters whose value picks a regional endpoint.
LOCATION_PARAMS = ("locationsId", "location", "region")
# Page size parameter names, newest convention first (compute and bigquery say maxResults).
PAGE_SIZE_PARAMS = ("pageSize", "maxResults")


def build_request(
    service: Service,
    method: Method,
    values: dict[str, Any],
    *,
    endpoint: str | None = None,
    body: Any = None,
    fields: list[str] | None = None,
    page_size: int | None = None,
) -> Request:
    """Describe one call of `method` with parameter `values` (None values count as not given)."""
    resource = resource_id(service, method)
    given = {k: v for k, v in values.items() if v is not None}
    # Rows keep the parameters as the statement gave them (`parent = 'projects/p'`); the URL splits them.
    in_url = _split_parent(method, dict(given))
    _check_required(resource, method, in_url)
    path = _expand_path(resource, method, in_url)
    root = regional_root(service, method, given)
    if endpoint:
        url = endpoint.rstrip("/") + "/" + service.service_path + path
        host_header: str | None = urlsplit(root).hostname
    else:
        url = root + service.service_path + path
        host_header = None
    query = _query(resource, method, given)
    if page_size is not None and method.paging:
        size_param = next((n for n in PAGE_SIZE_PARAMS if method.param(n)), None)
        if size_param and size_param not in given:
            query.append((size_param, str(page_size)))
    items_key = method.object_key.removeprefix("$.") if method.object_key and not method.raw else None
    if fields:
        mask = fields_mask(method, fields)
        if mask:
            query.append(("fields", mask))
    return Request(
        method=method.http_method,
        url=url,
        query=tuple(query),
        body=body,
        resource=resource,
        params=dict(given),
        host_header=host_header,
        items_key=items_key,
        retry_safe=_repeatable(method, query, body),
    )


def _split_parent(method: Method, given: dict[str, Any]) -> dict[str, Any]:
    """StackQL's `{parentType}/{parent}`: `parent = 'projects/p'` alone gives both halves; given beside
    `parentType = 'projects'` too (as parent's description has it), the type is not sent twice."""
    parent = given.get(PARENT)
    if not (isinstance(parent, str) and "/" in parent and method.param(PARENT_TYPE)):
        return given
    if PARENT_TYPE not in given:
        given[PARENT_TYPE], given[PARENT] = parent.split("/", 1)
    elif isinstance(given[PARENT_TYPE], str) and parent.startswith(given[PARENT_TYPE] + "/"):
        given[PARENT] = parent.removeprefix(given[PARENT_TYPE] + "/")
    return given


def _repeatable(method: Method, query: list[tuple[str, str]], body: Any) -> bool:
    """True for a POST the server will not carry out twice: it carries what the registry knows makes a second
    copy harmless (a documented requestId, AIP-155; the new object's own id, AIP-133, in the query or body)."""
    if method.http_method != "POST":
        return False
    sent = {name for name, value in query if value}
    in_body = body if isinstance(body, dict) else {}
    return any(
        name in sent if where == "query" else bool(in_body.get(name))
        for where, name in method.idempotency_keys
    )


def resource_id(service: Service, method: Method) -> str:
    """'google.ml.jobs' for a method of that resource, else the service id."""
    for res in service.resources.values():
        if res.methods.get(method.name) is method:
            return res.id
    return f"{service.provider}.{service.name}"


def regional_root(service: Service, method: Method, values: dict[str, Any]) -> str:
    """The root URL for a call: regional when a location parameter picks one, else the service's."""
    for name in LOCATION_PARAMS:
        param = method.param(name)
        value = values.get(name)
        if param is not None and param.location == "path" and isinstance(value, str):
            return location_root(service, value)
    return service.root_url


def location_root(service: Service, location: str) -> str:
    """https://us-central1-aiplatform.googleapis.com/ for us-central1, else the service's root URL.

    `.rep.` data-residency endpoints (some pre-production) stay opt-in, through an endpoint override.
    """
    url = service.endpoints.get(location)
    if url and (urlsplit(url).hostname or "").startswith(location + "-"):
        return url if url.endswith("/") else url + "/"
    return service.root_url


def fields_mask(method: Method, columns: list[str]) -> str:
    """Partial-response mask: 'nextPageToken,jobs(a,b)' for a list, 'a,b' for a single object."""
    cols = ",".join(dict.fromkeys(columns))
    if method.raw:
        return ""
    if method.object_key:
        key = method.object_key.removeprefix("$.")
        mask = f"{key}({cols})"
        return f"nextPageToken,{mask}" if method.paging else mask
    if method.paging:
        # Rows nested in a map (aggregatedList): a flat mask would drop them.
        return ""
    return cols


def aggregated_rows(body: bytes, scoped_key: str) -> bytes:
    """An aggregatedList page as a plain list page: `{"instances": [...]}` from every scope of `items`.

    Scopes with nothing on the page carry only a `warning` (NO_RESULTS_ON_PAGE) and add no rows.
    """
    page = json.loads(body) if body.strip() else {}
    scopes = page.get("items") if isinstance(page, dict) else None
    rows = [
        row
        for entry in (scopes or {}).values()
        if isinstance(entry, dict)
        for row in entry.get(scoped_key) or []
    ]
    return json.dumps({scoped_key: rows}, separators=(",", ":")).encode()


def _check_required(resource: str, method: Method, given: dict[str, Any]) -> None:
    in_path = {m.group(2) for m in _PLACEHOLDER.finditer(method.path)}
    needed = [p.name for p in method.params if p.required or p.name in in_path]
    needed += [n for n in in_path if n not in needed]
    missing = [n for n in needed if n not in given]
    if missing:
        noun = "parameter" if len(missing) == 1 else "parameters"
        raise ParameterError(
            f"{resource}.{method.name} is missing the required {noun} {', '.join(missing)}"
            f" (it needs {', '.join(needed)})"
        )


def _expand_path(resource: str, method: Method, given: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        plus, name = match.groups()
        param = method.param(name)
        value = _scalar(resource, name, given[name])
        if plus or (param is not None and param.reserved):
            return "/".join(_segment(resource, name, seg, value) for seg in value.split("/"))
        return _segment(resource, name, value, value)

    return _PLACEHOLDER.sub(replace, method.path)


def _segment(resource: str, name: str, segment: str, value: str) -> str:
    # '.' and '..' would be collapsed by URL normalisation and reach another resource.
    if segment in ("", ".", ".."):
        raise ParameterError(
            f"{resource}: {name} = {value!r} is not a valid path parameter value"
            " (empty, '.' and '..' segments are not allowed)"
        )
    return quote(segment, safe="")


def _query(resource: str, method: Method, given: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for param in method.query_params:
        if param.name not in given:
            continue
        value = given[param.name]
        if value == "" and not param.required and method.http_method == "GET":
            # A read's blank optional parameter is one not given: StackQL's SELECT examples carry
            # `AND pageSize = '{{ pageSize }}'` for every one, which a template leaves '' when unset.
            continue
        if isinstance(value, list | tuple | set | frozenset):
            if not param.repeated:
                raise ParameterError(
                    f"{resource}.{method.name}: {param.name} takes one value, got {len(value)}"
                )
            items = sorted(value) if isinstance(value, set | frozenset) else list(value)
            out.extend((param.name, _scalar(resource, param.name, v)) for v in items)
        else:
            out.append((param.name, _scalar(resource, param.name, value)))
    return out


def _scalar(resource: str, name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ParameterError(f"{resource}: {name} must be a string or a number, got {type(value).__name__}")
