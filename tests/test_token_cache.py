"""The access token is shared between skyql processes: a second `skyql exec` with the same key asks for none,
and the cache is private, expiring, and never used where it would be unsafe."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from skyql.emulator import Emulator
from tests.support import auth_for

QUERY = "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'demo-project' LIMIT 1"


def run(
    emulator: Emulator,
    key_file: Path,
    cache: Path,
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SKYQL_TOKEN_CACHE": "on", "SKYQL_CACHE_DIR": str(cache), **(env or {})}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "skyql.cli.main",
            "exec",
            "--auth",
            json.dumps(auth_for(key_file)),
            "--endpoint",
            f"google={emulator.url}",
            *extra,
            QUERY,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def token_requests(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r["path"].endswith("/token"))


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "tokens").glob("*.json"))


def test_a_second_process_reuses_the_token_and_the_cache_is_private(emulator, key_file, tmp_path):
    cache = tmp_path / "cache"
    emulator.clear_log()
    assert run(emulator, key_file, cache).returncode == 0
    assert token_requests(emulator) == 1
    assert run(emulator, key_file, cache).returncode == 0
    assert token_requests(emulator) == 1  # the second process sent the API the cached token, asked for none
    [entry] = entries(cache)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE((cache / "tokens").stat().st_mode) == 0o700
    saved = json.loads(entry.read_text())
    assert set(saved) == {"token", "expiry"} and saved["token"] in emulator.issued_tokens
    key = json.loads(key_file.read_text())
    assert key["private_key_id"] not in entry.read_text() and key["client_email"] not in entry.name


def test_a_cache_file_others_can_read_is_ignored(emulator, key_file, tmp_path):
    cache = tmp_path / "cache"
    assert run(emulator, key_file, cache).returncode == 0
    [entry] = entries(cache)
    entry.chmod(0o644)
    emulator.clear_log()
    assert run(emulator, key_file, cache).returncode == 0
    assert token_requests(emulator) == 1


def test_a_token_near_its_expiry_is_not_used(emulator, key_file, tmp_path):
    cache = tmp_path / "cache"
    assert run(emulator, key_file, cache).returncode == 0
    [entry] = entries(cache)
    saved = json.loads(entry.read_text())
    saved["expiry"] = 0
    entry.write_text(json.dumps(saved))
    emulator.clear_log()
    assert run(emulator, key_file, cache).returncode == 0
    assert token_requests(emulator) == 1
    assert json.loads(entries(cache)[0].read_text())["expiry"] > 0  # replaced by the fresh token


def test_a_token_the_api_refuses_is_replaced(emulator, key_file, tmp_path):
    cache = tmp_path / "cache"
    assert run(emulator, key_file, cache).returncode == 0
    [entry] = entries(cache)
    saved = json.loads(entry.read_text())
    saved["token"] = "revoked-" + saved["token"]
    entry.write_text(json.dumps(saved))
    emulator.clear_log()
    done = run(emulator, key_file, cache)
    assert done.returncode == 0, done.stderr
    assert token_requests(emulator) == 1
    assert json.loads(entries(cache)[0].read_text())["token"] in emulator.issued_tokens


@pytest.mark.parametrize("extra", [("--insecure",), ("--emulator",)])
def test_no_token_is_cached_under_insecure_or_for_the_embedded_emulator(emulator, key_file, tmp_path, extra):
    cache = tmp_path / "cache"
    done = run(emulator, key_file, cache, *extra)
    assert done.returncode == 0, done.stderr
    assert entries(cache) == []


def test_the_cache_can_be_turned_off(emulator, key_file, tmp_path):
    cache = tmp_path / "cache"
    done = run(emulator, key_file, cache, env={"SKYQL_TOKEN_CACHE": "off"})
    assert done.returncode == 0, done.stderr
    assert not (cache / "tokens").exists()
