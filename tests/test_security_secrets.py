"""Secret fields of request bodies (passwords, secret payloads, keys) never reach --verbose logs, --dryrun rows
or error messages, while the requests sent carry them unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyql.cli.main import main
from skyql.emulator import Emulator
from skyql.fetch.request import Request
from skyql.fetch.secrets import is_secret
from tests.support import auth_for

PASSWORD = "hunter2-Pa55w0rd"
PAYLOAD = "c2VjcmV0LXBheWxvYWQtZGF0YQ=="  # base64 of the secret a Secret Manager version holds


@pytest.fixture
def emu(emulator: Emulator) -> Emulator:
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def flags(emu: Emulator, key_file: Path) -> list[str]:
    return ["--auth", json.dumps(auth_for(key_file)), "--endpoint", f"google={emu.url}"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["exec", *args])
    out, err = capsys.readouterr()
    return status, out, err


def sent_bodies(emu: Emulator, part: str) -> list[str]:
    return [json.dumps(r.get("body")) for r in emu.requests if part in r["path"]]


def test_verbose_shows_the_request_with_a_cloud_sql_password_redacted(capsys, emu, flags):
    emu.clear_log()
    status, out, err = run(
        capsys,
        *flags,
        "--verbose",
        "INSERT INTO google.sqladmin.users (project, instance, name, password) "
        f"SELECT 'sec-sql', 'inst1', 'alice', '{PASSWORD}'",
    )
    assert status == 0, err
    assert "POST http://127.0.0.1" in err and '{"name":"alice","password":"[redacted]"}' in err
    assert PASSWORD not in out + err
    assert any(PASSWORD in body for body in sent_bodies(emu, "/instances/inst1/users"))


def test_verbose_and_dryrun_hide_a_secret_manager_payload(capsys, emu, flags):
    create = (
        "EXEC google.secretmanager.secrets.create @projectsId='sec-sm', @secretId='s1' "
        '@@json=\'{"replication": {"automatic": {}}}\''
    )
    add = (
        "EXEC google.secretmanager.secrets_version.add_version @projectsId='sec-sm', @secretsId='s1' "
        f'@@json=\'{{"payload": {{"data": "{PAYLOAD}", "dataCrc32c": "12"}}}}\''
    )
    status, _, err = run(capsys, *flags, create)
    assert status == 0, err
    emu.clear_log()
    status, out, err = run(capsys, *flags, "--verbose", add)
    assert status == 0, err
    assert '{"payload":{"data":"[redacted]","dataCrc32c":"12"}}' in err
    assert PAYLOAD not in out + err
    assert any(PAYLOAD in body for body in sent_bodies(emu, "secrets/s1:addVersion"))
    status, out, err = run(capsys, *flags, "--dryrun", "-o", "json", add)
    assert status == 0, err
    [row] = json.loads(out[out.index("[") :])
    assert row["request"].endswith('{"payload":{"data":"[redacted]","dataCrc32c":"12"}}')


def test_a_partly_failed_insert_names_its_rows_without_their_passwords(capsys, emu, flags):
    emu.inject(status=400, count=1, match="/instances/inst-bad/users")
    status, out, err = run(
        capsys,
        *flags,
        "INSERT INTO google.sqladmin.users (project, instance, name, password) "
        f"SELECT 'sec-sql', 'inst-ok', 'alice', '{PASSWORD}-1' "
        f"UNION ALL SELECT 'sec-sql', 'inst-bad', 'bob', '{PASSWORD}-2'",
    )
    assert (status, out) == (1, "")
    assert "1 of 2 INSERT requests on google.sqladmin.users failed" in err
    assert '"name":"bob","password":"[redacted]"' in err and '"name":"alice","password":"[redacted]"' in err
    assert PASSWORD not in err


def test_a_server_echoing_a_password_in_its_error_is_redacted_on_stderr(capsys):
    from skyql.cli.logs import for_terminal

    echoed = f'invalid user {{"name": "bob", "rootPassword": "{PASSWORD}", "clientSecret": "x\\"y"}}'
    shown = for_terminal(echoed)
    assert PASSWORD not in shown and 'x\\"y' not in shown
    assert '"rootPassword": "[redacted]"' in shown and '"name": "bob"' in shown


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "rootPassword",
        "client_secret",
        "sharedSecret",
        "privateKeyData",
        "private_key",
        "apiKey",
        "keyString",
        "accessToken",
        "refresh_token",
        "plaintext",
        "rawKey",
        "preSharedKey",
    ],
)
def test_secret_field_names(name):
    assert is_secret(name)


@pytest.mark.parametrize(
    "name",
    [
        "name",
        "pageToken",
        "nextPageToken",
        "syncToken",
        "resumeToken",
        "data",
        "displayName",
        "keyName",
        "etag",
    ],
)
def test_fields_that_are_not_secrets(name):
    assert not is_secret(name)


def test_describe_masks_nested_secrets_and_query_keys_but_not_page_tokens():
    request = Request(
        "POST",
        "https://x.googleapis.com/v1/things",
        (("pageToken", "p1"), ("key", "AIzaSecret")),
        {"name": "n", "settings": [{"password": "pw"}], "payload": {"data": "ZGF0YQ=="}, "data": "d"},
    )
    assert request.describe() == (
        "POST https://x.googleapis.com/v1/things?pageToken=p1&key=[redacted] "
        '{"name":"n","settings":[{"password":"[redacted]"}],"payload":{"data":"[redacted]"},"data":"d"}'
    )
