"""`REGISTRY PULL google`: refresh the provider from Google's live Discovery API, then rebuild it.

The directory and the documents are untrusted input: names are checked before they become file names, an
empty or much smaller result does not replace the registry unless forced, and the new registry is built
beside the old one and swapped in only when complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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
# A pull that keeps fewer than this share of the services there are now is refused unless forced.
KEEP_AT_LEAST = 0.9
# API names and versions as Google spells them (`admin`, `directory_v1`, `v1.4`): never a path.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_VERSION = re.compile(r"[a-z0-9]+(?:[._][a-z0-9]+){0,7}")
# A discovery document is a few MB at most (compute's is 4 MB); a bigger answer is not one.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def choose_from_directory(
    items: list[dict[str, Any]], stackql: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
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


def pull_provider(
    provider: str, out: Path, discovery_url: str = DISCOVERY_URL, workers: int = 8, *, force: bool = False
) -> dict:
    """Download the chosen discovery documents and build `out/<provider>` from them (replaced atomically)."""
    if provider != "google":
        raise ConfigError(f"REGISTRY PULL knows the google provider only, not {provider!r}")
    import httpx

    target = out / provider
    try:
        with httpx.Client(timeout=60.0, follow_redirects=True) as client:
            directory = _get_json(client, discovery_url, "the discovery directory")
            chosen = choose_from_directory(
                _checked_items(directory, discovery_url), load_names(stackql_names_path(target))
            )
            _check_size(len(chosen), target, discovery_url, force)
            out.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="skyql-discovery-") as tmp:

                def download(item: dict[str, Any]) -> None:
                    what = f"the discovery document of {item['name']} {item['version']}"
                    doc = _get_json(client, item["discoveryRestUrl"], what)
                    if not isinstance(doc, dict) or not isinstance(doc.get("resources", {}), dict):
                        raise ConfigError(
                            f"{what} is not a discovery document; the registry was left as it was"
                        )
                    (Path(tmp) / f"{item['name']}.{item['version']}.json").write_text(json.dumps(doc))

                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(download, chosen))
                return _build_and_swap(Path(tmp), target)
    except httpx.HTTPError as err:
        raise ApiError(f"cannot pull the {provider} registry from {discovery_url}: {err}") from None


def _checked_items(directory: Any, url: str) -> list[dict[str, Any]]:
    """The directory's items, each with a safe name, version and http(s) document URL, or a ConfigError."""
    items = directory.get("items") if isinstance(directory, dict) else None
    if not isinstance(items, list):
        raise ConfigError(
            f"{url} is not a discovery directory (no `items` list); the registry was left as it was"
        )
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        version = item.get("version") if isinstance(item, dict) else None
        doc_url = item.get("discoveryRestUrl") if isinstance(item, dict) else None
        if not (
            isinstance(name, str)
            and _NAME.fullmatch(name)
            and isinstance(version, str)
            and _VERSION.fullmatch(version)
            and isinstance(doc_url, str)
            and doc_url.startswith(("https://", "http://"))
        ):
            shown = json.dumps(item)[:200]
            raise ConfigError(
                f"{url} lists an entry skyql will not use: {shown} (it needs a name like `aiplatform`, a version"
                " like `v1` and an http(s) discoveryRestUrl); the registry was left as it was"
            )
    return items


def _check_size(count: int, target: Path, url: str, force: bool) -> None:
    """Refuse a pull that would empty or shrink the registry, unless forced."""
    index = target / "provider.json"
    try:
        before = len(json.loads(index.read_text())["services"]) if index.is_file() else 0
    except (ValueError, KeyError, TypeError):
        before = 0
    if force:
        return
    if count == 0:
        raise ConfigError(
            f"{url} lists no APIs: the registry was left as it was (--force replaces it anyway)"
        )
    if count < before * KEEP_AT_LEAST:
        raise ConfigError(
            f"{url} lists {count} APIs where the registry has {before}: the registry was left as it was"
            " (--force replaces it anyway)"
        )


def _build_and_swap(documents: Path, target: Path) -> dict:
    """Build into a sibling folder, then put it in the target's place; the old one goes only after that."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-new-", dir=target.parent))
    try:
        # The build's other inputs live in the registry folder too: corrections, and StackQL's names.
        for kept in (target / "overlay.json", stackql_names_path(target)):
            if kept.is_file():
                shutil.copy2(kept, staging / kept.name)
        try:
            index = build_provider(documents, staging, staging / "overlay.json")
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            # A document of the wrong shape; the message names the field, never the document's text.
            raise ConfigError(
                f"a discovery document has an unexpected shape ({type(err).__name__}: {str(err)[:100]});"
                " the registry was left as it was"
            ) from None
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
        if target.exists():
            os.replace(target, old / target.name)
        try:
            os.replace(staging, target)
        except OSError:
            if (old / target.name).exists():
                os.replace(old / target.name, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return index
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _get_json(client: Any, url: str, what: str) -> Any:
    with client.stream("GET", url) as resp:
        resp.raise_for_status()
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > MAX_DOCUMENT_BYTES:
                raise ConfigError(
                    f"{what} at {url} is larger than {MAX_DOCUMENT_BYTES // 2**20} MB; not used"
                )
            chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        kind = resp.headers.get("content-type", "no content type")
        raise ConfigError(f"{what} at {url} is not JSON ({kind}); the registry was left as it was") from None
