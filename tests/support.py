"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def auth_for(key_file: Path) -> dict[str, Any]:
    """StackQL-shaped auth for a service-account key file (the emulator's, from the `key_file` fixture)."""
    return {"google": {"type": "service_account", "credentialsfilepath": str(key_file)}}
