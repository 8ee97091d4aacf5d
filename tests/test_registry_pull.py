"""REGISTRY PULL against a local Discovery directory server (never the internet)."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from skyql.registry import Registry
from skyql.registry.pull import choose_from_directory, pull_provider
from tests.test_registry import discovery_doc


def test_choose_from_directory_keeps_one_version_per_service():
    items = [{"name": "a", "version": v} for v in ("v1", "v2beta1", "v1beta")] + [{"name": "b", "version": "v1alpha"}]
    assert [(i["name"], i["version"]) for i in choose_from_directory(items)] == [("a", "v1"), ("b", "v1alpha")]


def test_pull_downloads_the_directory_and_builds_the_provider(tmp_path: Path):
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    for name, version in [("alpha", "v1"), ("alpha", "v2beta")]:
        (site / "docs" / f"{name}.{version}.json").write_text(json.dumps(discovery_doc(name, version)))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        items = [{"name": "alpha", "version": v, "discoveryRestUrl": f"{base}/docs/alpha.{v}.json"}
                 for v in ("v1", "v2beta")]
        (site / "apis.json").write_text(json.dumps({"items": items}))
        index = pull_provider("google", tmp_path / "providers", discovery_url=f"{base}/apis.json")
    finally:
        server.shutdown()
    assert [s["id"] for s in index["services"]] == ["alpha:v1"]
    assert Registry(tmp_path / "providers").lookup("google.alpha.things").find_method("list").paging
