"""Where credentials and polls may go: a key's token_uri, and a long-running operation's selfLink."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from skyql.emulator import Emulator
from skyql.errors import ApiError, ConfigError
from skyql.fetch import Fetcher, FetchOptions, load_credentials
from skyql.registry import Registry


def key_with(emulator: Emulator, tmp_path, token_uri: object) -> dict:
    info = json.loads(emulator.make_key(tmp_path / "key.json").read_text())
    info["token_uri"] = token_uri
    (tmp_path / "key.json").write_text(json.dumps(info))
    return {"google": {"type": "service_account", "credentialsfilepath": str(tmp_path / "key.json")}}


@pytest.mark.parametrize(
    "token_uri",
    [
        "http://evil.example/token",
        "http://10.0.0.8:8080/token",
        "ftp://x/token",
        "file:///etc/passwd",
        "https:///token",
        42,
    ],
)
def test_a_key_whose_token_uri_is_plain_http_to_another_host_is_refused(emulator, tmp_path, token_uri):
    auth = key_with(emulator, tmp_path, token_uri)
    with pytest.raises(ConfigError, match="has a token_uri skyql will not send credentials to") as err:
        load_credentials(auth, env={})
    assert "https URL, or http to a loopback address" in str(err.value)
    assert "PRIVATE KEY" not in str(err.value)


@pytest.mark.parametrize(
    "token_uri",
    [
        "https://oauth2.googleapis.com/token",
        "http://127.0.0.1:8089/token",
        "http://localhost:9/token",
        "http://[::1]:9/token",
    ],
)
def test_a_key_whose_token_uri_is_https_or_loopback_is_used(emulator, tmp_path, token_uri):
    assert load_credentials(key_with(emulator, tmp_path, token_uri), env={}) is not None


def compute_poller(seen: list[str]) -> Fetcher:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"name": "op-1", "status": "DONE"})

    return Fetcher(
        None, FetchOptions(poll_interval=0.001), transport=httpx.MockTransport(handle), rng=random.Random(0)
    )


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_operation_selflink_on_another_host_is_polled_at_the_services_host(anyio_backend):
    compute = Registry().service("google", "compute")
    link = "https://evil.example/compute/v1/projects/p/zones/z/operations/op-1"
    seen: list[str] = []
    async with compute_poller(seen) as fetcher:
        await fetcher.wait_operation({"name": "op-1", "status": "PENDING", "selfLink": link}, compute)
    assert seen == ["https://compute.googleapis.com/compute/v1/projects/p/zones/z/operations/op-1"]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize(
    "link",
    [
        "https://compute.googleapis.com/storage/v1/b/x",
        "https://compute.googleapis.com/compute/v1/projects/p/../../../x",
    ],
)
async def test_an_operation_selflink_outside_the_service_is_not_polled(anyio_backend, link):
    compute = Registry().service("google", "compute")
    seen: list[str] = []
    async with compute_poller(seen) as fetcher:
        with pytest.raises(ApiError, match="selfLink is not under /compute/v1/"):
            await fetcher.wait_operation({"name": "op-1", "status": "PENDING", "selfLink": link}, compute)
    assert seen == []
