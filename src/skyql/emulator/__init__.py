"""skyql's local Google Cloud API emulator: every service of the registry, from memory, on loopback.

with Emulator(seed=0) as emu:          # or `skyql emulator --port 8089 --make-key key.json`
    emu.make_key("key.json")           # a service-account key whose token_uri is emu.url + "/token"
    emu.populate("ml", "projects/bench/jobs", 100_000)
    emu.inject(status=429, count=2)    # the next two API calls get 429 with Retry-After
    ...                                # point any Google client at emu.url
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skyql.emulator.emulator import Emulator

__all__ = ["Emulator"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: `skyql exec "SHOW ..."` builds its argument parser from skyql.emulator.cli and
    # must not pay for the whole emulator.
    if name == "Emulator":
        from skyql.emulator.emulator import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
