"""skyql's local Google Cloud API emulator: every service of the registry, from memory, on loopback.

    with Emulator(seed=0) as emu:          # or `skyql emulator --port 8089 --make-key key.json`
        emu.make_key("key.json")           # a service-account key whose token_uri is emu.url + "/token"
        emu.populate("ml", "projects/bench/jobs", 100_000)
        emu.inject(status=429, count=2)    # the next two API calls get 429 with Retry-After
        ...                                # point any Google client at emu.url
"""

from skyql.emulator.emulator import Emulator

__all__ = ["Emulator"]
