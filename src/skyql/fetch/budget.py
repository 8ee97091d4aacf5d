"""What one statement may spend: a deadline, a bound on requests in flight, and per-host rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from skyql.fetch.retry import Clock

# 429s in a row (no success between them) from requests started at the current limit before the host's
# limit is halved: a quota that is used up refuses everything; a 429 here and there is no reason to slow down.
STRIKES = 3


class HostLimit:
    """Requests in flight to one host; halved after repeated 429s, for the rest of the statement."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.epoch = 0  # bumped on every cut: a 429 from before a cut does not count towards the next
        self._in_use = 0
        self._strikes = 0
        self._waiting = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        """Hold one slot; yields the epoch the request started in."""
        if self._in_use < self.limit and not self._waiting:
            self._in_use += 1  # the common case, without the Condition's lock round trip per request
        else:
            self._waiting += 1
            try:
                async with self._changed:
                    await self._changed.wait_for(lambda: self._in_use < self.limit)
                    self._in_use += 1
            finally:
                self._waiting -= 1
        try:
            yield self.epoch
        finally:
            self._in_use -= 1
            if self._waiting:
                async with self._changed:
                    self._changed.notify()

    def answered(self, epoch: int) -> None:
        """A success from a request started in `epoch`: the 429s before it were not a used-up quota."""
        if epoch == self.epoch:
            self._strikes = 0

    def throttled(self, epoch: int) -> None:
        """Count a 429 from a request started in `epoch`; cut the limit after STRIKES of them in a row."""
        if epoch != self.epoch or self.limit == 1:
            return
        self._strikes += 1
        if self._strikes >= STRIKES:
            self.limit = max(1, self.limit // 2)
            self.epoch += 1
            self._strikes = 0


class Budget:
    """One statement's deadline and concurrency, shared by every request it sends."""

    def __init__(self, seconds: float, concurrency: int, clock: Clock) -> None:
        self.seconds = seconds
        self.clock = clock
        self.concurrency = concurrency
        self._deadline = clock.now() + seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, HostLimit] = {}
        self.expired = False  # a request gave up because of the deadline (not because of its own failure)

    def remaining(self) -> float:
        return self._deadline - self.clock.now()

    def host(self, name: str) -> HostLimit:
        if name not in self._hosts:
            self._hosts[name] = HostLimit(name, self.concurrency)
        return self._hosts[name]

    @asynccontextmanager
    async def slot(self, host: HostLimit) -> AsyncIterator[int]:
        """Hold a host slot, then a statement slot (a throttled host must not hold others up); yields the epoch."""
        async with host.slot() as epoch, self._slots:
            yield epoch
