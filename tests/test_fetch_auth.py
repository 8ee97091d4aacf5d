"""Credentials from StackQL-shaped auth JSON, the environment or ADC; and the httpx token transport."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import google.auth.exceptions
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

from skyql.errors import ConfigError
from skyql.fetch import HttpxAuthRequest, load_credentials
from skyql.fetch.auth import SCOPES

TOKEN_URI = "https://oauth2.example.test/token"


@pytest.fixture(scope="module")
def key_info() -> dict:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "bench",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "robot@bench.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": TOKEN_URI,
    }


@pytest.fixture
def key_file(tmp_path, key_info) -> Path:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(key_info))
    return path


@pytest.fixture
def no_adc(monkeypatch, tmp_path):
    """A machine with no Application Default Credentials and no metadata server."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


def test_a_service_account_key_file_gives_scoped_credentials(key_file):
    creds = load_credentials(
        {"google": {"type": "service_account", "credentialsfilepath": str(key_file)}}, env={}
    )
    assert isinstance(creds, service_account.Credentials)
    assert creds.service_account_email == "robot@bench.iam.gserviceaccount.com"
    assert tuple(creds.scopes) == SCOPES


def test_auth_may_be_json_text_and_unkeyed(key_file):
    text = json.dumps({"type": "service_account", "credentialsfilepath": str(key_file)})
    assert isinstance(load_credentials(text, env={}), service_account.Credentials)


def test_a_key_in_the_named_environment_variable(key_info):
    env = {"MY_SA_JSON": json.dumps(key_info)}
    creds = load_credentials(
        {"google": {"type": "service_account", "credentialsenvvar": "MY_SA_JSON"}}, env=env
    )
    assert creds.service_account_email == key_info["client_email"]


def test_without_auth_the_google_credentials_variable_is_used(key_info):
    creds = load_credentials(None, env={"GOOGLE_CREDENTIALS": json.dumps(key_info)})
    assert creds.service_account_email == key_info["client_email"]


def test_without_anything_application_default_credentials_are_used(monkeypatch, no_adc, key_file):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    assert isinstance(load_credentials(None, env={}), service_account.Credentials)
    assert isinstance(
        load_credentials({"google": {"type": "interactive"}}, env={}), service_account.Credentials
    )


def test_with_no_credentials_at_all_requests_go_anonymous(no_adc):
    assert load_credentials(None, env={}) is None
    assert load_credentials({"aws": {"type": "aws_signing_v4"}}, env={}) is None


def test_interactive_without_adc_says_how_to_log_in(no_adc):
    with pytest.raises(ConfigError, match="gcloud auth application-default login"):
        load_credentials({"google": {"type": "interactive"}}, env={})


def test_a_missing_key_file_names_the_setting_to_fix(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match="nope.json not found: fix credentialsfilepath"):
        load_credentials({"google": {"type": "service_account", "credentialsfilepath": str(missing)}}, env={})


def test_an_unset_key_variable_is_named():
    with pytest.raises(ConfigError, match="MY_SA_JSON"):
        load_credentials({"type": "service_account", "credentialsenvvar": "MY_SA_JSON"}, env={})


def test_a_key_that_is_not_json_is_reported_without_its_content(tmp_path):
    path = tmp_path / "key.json"
    path.write_text('{"private_key": "-----BEGIN PRIVATE KEY-----SECRETSTUFF')
    with pytest.raises(ConfigError) as err:
        load_credentials({"type": "service_account", "credentialsfilepath": str(path)}, env={})
    assert "not a valid JSON key" in str(err.value)
    assert "SECRETSTUFF" not in str(err.value)


def test_a_key_with_a_broken_private_key_is_reported_without_it(tmp_path, key_info):
    broken = dict(
        key_info, private_key="-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n-----END PRIVATE KEY-----\n"
    )
    path = tmp_path / "key.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(ConfigError, match="not a usable Google key") as err:
        load_credentials({"type": "service_account", "credentialsfilepath": str(path)}, env={})
    assert "SECRETSTUFF" not in str(err.value)


def test_an_unknown_auth_type_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown auth type 'oauth'.*service_account, interactive"):
        load_credentials({"google": {"type": "oauth"}}, env={})


def test_auth_text_that_is_not_json_shows_the_expected_shape():
    with pytest.raises(ConfigError, match="credentialsfilepath"):
        load_credentials("{google: service_account}", env={})


def test_the_httpx_transport_fetches_a_service_account_token(key_info):
    seen = []

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"access_token": "ya29.fresh", "expires_in": 3600, "token_type": "Bearer"}
        )

    creds = service_account.Credentials.from_service_account_info(key_info, scopes=SCOPES)
    with httpx.Client(transport=httpx.MockTransport(token_endpoint)) as client:
        creds.refresh(HttpxAuthRequest(client))
    assert creds.token == "ya29.fresh" and creds.valid
    assert str(seen[0].url) == TOKEN_URI and seen[0].method == "POST"
    form = urllib.parse.parse_qs(seen[0].content.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]


def test_the_httpx_transport_turns_network_failures_into_google_auth_errors():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    with client, pytest.raises(google.auth.exceptions.TransportError, match="Connection refused"):
        HttpxAuthRequest(client)(TOKEN_URI, method="POST", body=b"x")
