"""`REGISTRY PULL google`: refresh the provider from Google's live Discovery API, then rebuild it."""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from skyql.errors import ApiError, ConfigError
from skyql.registry.build import (
    _family,
    build_provider,
    load_names,
    stackql_names_path,
    stackql_version,
    version_rank,
)

DISCOVERY_URL = "https://www.googleapis.com/discovery/v1/apis"


def choose_from_directory(items: list[dict[str, Any]], stackql: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The directory entries to download: one version per service, by the same rule as `build`."""
    best: dict[str, dict[str, Any]] = {}
    for item in items:
        name = _family(item["name"], item["version"])
        if name not in best or version_rank(item["version"]) > version_rank(best[name]["version"]):
            best[name] = item
    by_version = {(item["name"], item["version"]): item for item in items}
    for name, entry in (stackql or {}).items():
        wanted = stackql_version(name, entry)
        if wanted in by_version:
            best[name] = by_version[wanted]
    # Two services may share a document (iam and iamv2 are not; a file is written once per version).
    return list({(i["name"], i["version"]): i for i in (best[k] for k in sorted(best))}.values())


def pull_provider(provider: str, out: Path, discovery_url: str = DISCOVERY_URL, workers: int = 8) -> dict:
    """Download the chosen discovery documents and build `out/<provider>` from them."""
    if provider != "google":
        raise ConfigError(f"REGISTRY PULL knows the google provider only, not {provider!r}")
    import httpx

    try:
        with httpx.Client(timeout=60.0, follow_redirects=True) as client:
            directory = _get_json(client, discovery_url)
            target = out / provider
            chosen = choose_from_directory(directory.get("items", []), load_names(stackql_names_path(target)))
            with tempfile.TemporaryDirectory(prefix="skyql-discovery-") as tmp:

                def download(item: dict[str, Any]) -> None:
                    resp = client.get(item["discoveryRestUrl"])
                    resp.raise_for_status()
                    (Path(tmp) / f"{item['name']}.{item['version']}.json").write_bytes(resp.content)

                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(download, chosen))
                return build_provider(Path(tmp), target, target / "overlay.json")
    except httpx.HTTPError as err:
        raise ApiError(f"cannot pull the {provider} registry from {discovery_url}: {err}") from None


def _get_json(client: Any, url: str) -> dict[str, Any]:
    resp = client.get(url)
    resp.raise_for_status()
    return resp.json()
