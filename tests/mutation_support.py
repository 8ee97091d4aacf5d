"""Helpers shared by the mutation tests: a session against the emulator and what the emulator received."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyql.emulator import Emulator
from skyql.session import Options, Session
from tests.support import auth_for

HPT = "google.aiplatform.hyperparameter_tuning_jobs"
HPT_PATH = "/v1/projects/{project}/locations/us-central1/hyperparameterTuningJobs"
# Operations are polled after 50 ms (growing 1.5x): the emulator finishes them on the second poll.
FAST_POLL = 0.05


def open_session(emulator: Emulator, key_file: Path, **options: Any) -> Session:
    return Session(
        Options(
            auth=auth_for(key_file), endpoints={"google": emulator.url}, poll_interval=FAST_POLL, **options
        )
    )


def api_calls(emulator: Emulator, method: str | None = None, fragment: str = "") -> list[dict[str, Any]]:
    """The logged API requests (token requests left out), optionally of one HTTP method and path fragment."""
    return [
        r
        for r in emulator.requests
        if r["path"] != "/token" and (method is None or r["method"] == method) and fragment in r["path"]
    ]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyql.cli.main", "exec", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def module_session(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """One session for a test module (its token is fetched once): `yield from` it in a module fixture."""
    with open_session(emulator, emulator.make_key(tmp_path_factory.mktemp("mutations") / "key.json")) as sess:
        yield sess


def cleared(session: Session, emulator: Emulator) -> Session:
    """`session`, with the emulator's request log emptied: a test sees only its own requests."""
    emulator.clear_log()
    return session
