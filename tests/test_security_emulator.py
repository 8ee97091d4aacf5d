"""The emulator refuses what a hostile web page or body could do to it: rebinding, cross-origin POSTs, deep JSON,
and a key file written over someone else's file."""

from __future__ import annotations

import json
import os
import stat

import httpx
import pytest

from skyql.emulator import Emulator
from skyql.emulator.cli import main as emulator_main


def test_a_deeply_nested_body_is_answered_after_the_auth_check_not_dropped(emulator: Emulator, access_token):
    deep = "[" * 100_000 + "]" * 100_000
    url = f"{emulator.url}/v1/projects/sec-deep/jobs"
    anonymous = httpx.post(url, content=deep, headers={"Content-Type": "application/json"})
    assert anonymous.status_code == 401
    signed = httpx.post(
        url,
        content=deep,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {access_token}"},
    )
    assert signed.status_code == 400
    assert "nested too deeply" in signed.json()["error"]["message"]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8089", "attacker.test"])
def test_control_endpoints_refuse_a_host_name_a_rebinding_page_would_send(emulator: Emulator, host):
    reply = httpx.get(f"{emulator.url}/_emulator/key", headers={"Host": host})
    assert reply.status_code == 403
    assert "private_key" not in reply.text
    assert httpx.get(f"{emulator.url}/_emulator/log", headers={"Host": host}).status_code == 403


@pytest.mark.parametrize("host", [None, "localhost:8089", "127.0.0.1", "[::1]:1"])
def test_control_endpoints_answer_loopback_and_ip_hosts(emulator: Emulator, host):
    headers = {"Host": host} if host else {}
    assert httpx.get(f"{emulator.url}/_emulator/key", headers=headers).json()["type"] == "service_account"


@pytest.mark.parametrize(
    "kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_a_control_post_that_a_cross_origin_form_could_send_is_refused(emulator: Emulator, kind):
    body = json.dumps({"project": "sec-csrf"})
    headers = {"Content-Type": kind} if kind else {}
    reply = httpx.post(f"{emulator.url}/_emulator/deny", content=body, headers=headers)
    assert reply.status_code == 415
    assert "sec-csrf" not in emulator.api.denied
    ok = httpx.post(
        f"{emulator.url}/_emulator/deny",
        content=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200
    emulator.deny("sec-csrf", denied=False)


def test_make_key_refuses_an_existing_file_and_never_follows_a_symlink(emulator: Emulator, tmp_path):
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    with pytest.raises(FileExistsError):
        emulator.make_key(existing)
    assert existing.read_text() == "keep me"
    link = tmp_path / "key.json"
    link.symlink_to(existing)
    with pytest.raises(FileExistsError):
        emulator.make_key(link)
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(FileExistsError):
        emulator.make_key(dangling)
    assert not (tmp_path / "elsewhere.json").exists()
    # Asked to replace: the link itself is replaced by a private regular file; its target is untouched.
    emulator.make_key(link, replace=True)
    assert not link.is_symlink() and json.loads(link.read_text())["type"] == "service_account"
    assert existing.read_text() == "keep me"
    assert stat.S_IMODE(os.stat(link).st_mode) == 0o600


def test_the_emulator_command_refuses_to_overwrite_a_key_file(tmp_path, capsys):
    existing = tmp_path / "key.json"
    existing.write_text("mine")
    assert emulator_main(["--port", "0", "--make-key", str(existing)]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "--replace-key" in err
    assert existing.read_text() == "mine"
