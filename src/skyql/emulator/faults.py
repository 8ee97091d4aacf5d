"""Fault injection: the next N matching requests fail, wait, or lose their connection."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

HTTP_VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass
class Fault:
    """One rule. `match` is a substring of the path, optionally led by an HTTP verb: `POST :cancel`."""

    status: int | None = None
    count: int = 1
    match: str | None = None
    retry_after: float | None = 1
    delay_ms: int = 0
    drop: bool = False
    in_operation: bool = False  # the request succeeds; the Operation it starts ends with this error
    # Hit only this share of the matching requests (count still caps the hits), drawn from Random(seed).
    probability: float = 1.0
    seed: int | None = None
    _dice: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def matches(self, method: str, path: str, is_api: bool) -> bool:
        if self.match is None:
            return is_api
        verb, _, rest = self.match.partition(" ")
        if rest and verb.upper() in HTTP_VERBS:
            return method == verb.upper() and rest in path
        return self.match in path

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "count": self.count,
            "match": self.match,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "drop": self.drop,
            "in_operation": self.in_operation,
            "probability": self.probability,
            "seed": self.seed,
        }


@dataclass
class Faults:
    rules: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> Fault:
        if fault.status is None and not fault.drop and not fault.delay_ms:
            fault.status = 429
        if fault.count < 1:
            raise ValueError("count must be at least 1")
        if fault.status is not None and not 400 <= fault.status <= 599:
            raise ValueError(f"status must be an HTTP error code (400-599), not {fault.status}")
        if not 0 < fault.probability <= 1:
            raise ValueError(f"probability must be more than 0 and at most 1, not {fault.probability}")
        fault._dice = random.Random(fault.seed)
        with self._lock:
            self.rules.append(fault)
        return fault

    def take(self, method: str, path: str, is_api: bool) -> Fault | None:
        """The first live rule that matches this request, with its count spent by one."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path, is_api):
                    if rule.probability < 1 and rule._dice.random() >= rule.probability:
                        continue
                    rule.count -= 1
                    if rule.count <= 0:
                        self.rules.remove(rule)
                    return rule
        return None

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
