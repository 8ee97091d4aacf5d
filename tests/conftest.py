"""Shared fixtures: one local Google API emulator per test session, and credentials for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from skyql.emulator import Emulator

if TYPE_CHECKING:
    from skyql.session import Session

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"

# Tests count token exchanges and run many keys: the shared token cache is off, except in the tests of it
# (test_token_cache.py), which point it at their own folder. Subprocesses inherit this.
os.environ["SKYQL_TOKEN_CACHE"] = "off"


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """The emulator on loopback (auth required, seed 0); tests that change state use their own project."""
    with Emulator(require_auth=True) as emu:
        yield emu


@pytest.fixture
def key_file(emulator: Emulator, tmp_path: Path) -> Path:
    """A service-account key file whose token_uri is the emulator's token endpoint."""
    return emulator.make_key(tmp_path / "key.json")


@pytest.fixture(scope="session")
def access_token(emulator: Emulator) -> str:
    """A bearer token the emulator issued, obtained the way google-auth gets one (JWT-bearer grant)."""
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_info(emulator.key_info, scopes=[CLOUD_PLATFORM])
    creds.refresh(Request())
    return creds.token


@pytest.fixture(scope="module")
def shared_session(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """One session per test module that asks for it (its token is fetched once)."""
    from tests.mutation_support import module_session

    yield from module_session(emulator, tmp_path_factory)


@pytest.fixture
def session(shared_session: Session, emulator: Emulator) -> Session:
    """The module's session, with the emulator's request log emptied: a test sees only its own requests.

    Modules with a session of their own define `session` themselves."""
    from tests.mutation_support import cleared

    return cleared(shared_session, emulator)
