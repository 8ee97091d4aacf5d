"""REGISTRY PULL against a local Discovery directory server (never the internet)."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import skyql
from skyql.cli.main import main
from skyql.errors import ApiError, ConfigError
from skyql.registry import Registry
from skyql.registry.pull import choose_from_directory, pull_provider
from skyql.session import Options, Session
from tests.test_registry import discovery_doc


class Site:
    """A folder served over loopback HTTP: a discovery directory and its documents."""

    def __init__(self, root: Path, base: str) -> None:
        self.root, self.base = root, base

    def directory(self, items: Any, name: str = "apis.json") -> str:
        body = {"items": items} if isinstance(items, list) else items
        (self.root / name).write_text(body if isinstance(body, str) else json.dumps(body))
        return f"{self.base}/{name}"

    def documents(self, *apis: tuple[str, str]) -> list[dict[str, str]]:
        """Serve these (name, version) documents; their directory items."""
        (self.root / "docs").mkdir(exist_ok=True)
        items = []
        for name, version in apis:
            (self.root / "docs" / f"{name}.{version}.json").write_text(
                json.dumps(discovery_doc(name, version))
            )
            items.append(
                {
                    "name": name,
                    "version": version,
                    "discoveryRestUrl": f"{self.base}/docs/{name}.{version}.json",
                }
            )
        return items


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    root = tmp_path / "site"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(root, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def providers(tmp_path: Path, site: Site) -> Path:
    """A registry of three services, pulled from the site."""
    out = tmp_path / "providers"
    pull_provider(
        "google", out, site.directory(site.documents(("alpha", "v1"), ("beta", "v1"), ("gamma", "v1")))
    )
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_choose_from_directory_keeps_one_version_per_service():
    items = [{"name": "a", "version": v} for v in ("v1", "v2beta1", "v1beta")] + [
        {"name": "b", "version": "v1alpha"}
    ]
    assert [(i["name"], i["version"]) for i in choose_from_directory(items)] == [
        ("a", "v1"),
        ("b", "v1alpha"),
    ]


def test_pull_downloads_the_directory_and_builds_the_provider(tmp_path: Path, site: Site):
    url = site.directory(site.documents(("alpha", "v1"), ("alpha", "v2beta")))
    index = pull_provider("google", tmp_path / "providers", discovery_url=url)
    assert [s["id"] for s in index["services"]] == ["alpha:v1"]
    assert Registry(tmp_path / "providers").lookup("google.alpha.things").find_method("list").paging
    assert sorted(p.name for p in (tmp_path / "providers").iterdir()) == ["google"]  # nothing left behind


@pytest.mark.parametrize("name", ["../../../x", "a/b", "..", "x.json", ""])
def test_a_directory_entry_whose_name_is_a_path_is_refused_and_nothing_is_written(
    tmp_path, site, providers, name
):
    items = site.documents(("alpha", "v1"))
    items.append({"name": name, "version": "v1", "discoveryRestUrl": items[0]["discoveryRestUrl"]})
    before = snapshot(tmp_path / "providers")
    with pytest.raises(ConfigError, match="lists an entry skyql will not use"):
        pull_provider("google", providers, site.directory(items))
    assert snapshot(tmp_path / "providers") == before


def test_an_entry_without_a_version_is_refused_with_a_message(providers, site):
    items = [{"name": "alpha", "discoveryRestUrl": f"{site.base}/docs/alpha.v1.json"}]
    with pytest.raises(ConfigError, match="it needs a name like `aiplatform`, a version like `v1`"):
        pull_provider("google", providers, site.directory(items))


def test_an_empty_directory_leaves_the_registry_as_it_was_unless_forced(providers, site, capsys):
    before = snapshot(providers)
    url = site.directory({"items": []})
    status = main(["registry", "pull", "google", "--out", str(providers), "--discovery-url", url])
    assert status == 1
    assert (
        "lists no APIs: the registry was left as it was (--force replaces it anyway)"
        in capsys.readouterr().err
    )
    assert snapshot(providers) == before
    assert (
        main(["registry", "pull", "google", "--out", str(providers), "--discovery-url", url, "--force"]) == 0
    )
    assert Registry(providers).provider("google").service_index == {}


def test_a_directory_that_would_shrink_the_registry_is_refused(providers, site):
    url = site.directory(site.documents(("alpha", "v1")))
    with pytest.raises(ConfigError, match="lists 1 APIs where the registry has 3"):
        pull_provider("google", providers, url)
    assert sorted(Registry(providers).provider("google").service_index) == ["alpha", "beta", "gamma"]
    assert pull_provider("google", providers, url, force=True)["services"][0]["name"] == "alpha"


def test_an_html_answer_is_refused_with_a_message_not_a_traceback(providers, site, capsys):
    url = site.directory("<html><body>Sign in</body></html>", name="apis.html")
    status = main(["registry", "pull", "google", "--out", str(providers), "--discovery-url", url])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("skyql: the discovery directory at ") and "is not JSON (text/html)" in err
    assert "Traceback" not in err


def test_a_document_that_fails_to_download_leaves_the_registry_as_it_was(tmp_path, providers, site):
    items = site.documents(("alpha", "v1"), ("beta", "v1"), ("gamma", "v1"))
    items[1]["discoveryRestUrl"] = f"{site.base}/docs/missing.json"
    before = snapshot(providers)
    with pytest.raises(ApiError, match="404"):
        pull_provider("google", providers, site.directory(items))
    assert snapshot(providers) == before
    assert sorted(p.name for p in providers.iterdir()) == ["google"]


def test_registry_pull_is_refused_under_safe_and_through_the_dbapi_unless_allowed(providers):
    with (
        Session(Options(safe=True), registry=Registry(providers)) as session,
        pytest.raises(ConfigError) as err,
    ):
        session.execute("REGISTRY PULL google")
    assert "allow it with --allow-registry-pull or connect(allow_registry_pull=True)" in str(err.value)
    with skyql.connect() as conn, pytest.raises(skyql.dbapi.Error, match="REGISTRY PULL rewrites"):
        conn.cursor().execute("REGISTRY PULL google")
    # Allowed, with --dryrun so that nothing goes to the internet: the statement gets as far as planning.
    with skyql.connect(allow_registry_pull=True, dryrun=True) as conn:
        cursor = conn.cursor()
        cursor.execute("REGISTRY PULL google")
        assert cursor.fetchall()[0][0] == "google"
    with Session(Options(safe=True, allow_registry_pull=True, dryrun=True)) as session:
        assert session.execute("REGISTRY PULL google").rows[0][0] == "google"


def test_a_document_of_the_wrong_shape_leaves_the_registry_as_it_was(providers, site):
    items = site.documents(("alpha", "v1"), ("beta", "v1"), ("gamma", "v1"))
    broken = discovery_doc("gamma", "v1", revision="20270101")
    broken["resources"]["projects"]["resources"]["things"]["methods"]["list"] = "not a method"
    (site.root / "docs" / "gamma.v1.json").write_text(json.dumps(broken))
    (site.root / "docs" / "alpha.v1.json").write_text(
        json.dumps(dict(discovery_doc("alpha", "v1"), title="new"))
    )
    before = snapshot(providers)
    with pytest.raises(ConfigError, match="unexpected shape"):
        pull_provider("google", providers, site.directory(items))
    assert snapshot(providers) == before
