"""The one exception family users see.

    SkyqlError                  anything a user can cause; the message says what to do
    ├── SqlError                bad or unsupported SQL, bad statement shape
    ├── NotFoundError           unknown provider, service, resource, method or column
    ├── ParameterError          a required parameter is missing or a value is invalid
    ├── ConfigError             bad auth JSON, credentials, endpoints or options
    └── ApiError                the API (or the network) answered with an error

The CLI maps every one to exit status 1; the DB-API maps them to PEP 249 classes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SkyqlError(Exception):
    """Base of every error a user can cause; ``str(err)`` is the message to show."""


class SqlError(SkyqlError):
    """The statement cannot be parsed or is not supported."""


class NotFoundError(SkyqlError):
    """A name (provider, service, resource, method, column) does not exist."""


class ParameterError(SkyqlError):
    """A required parameter is missing, or a value does not fit its type."""


class ConfigError(SkyqlError):
    """Credentials, endpoints or options are wrong."""


class ApiError(SkyqlError):
    """An HTTP request failed: carries the HTTP status and Google's error status."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        status: str | None = None,
        resource: str | None = None,
        params: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status = status
        self.resource = resource
        self.params = params or {}


def shown(name: str, limit: int = 80) -> str:
    """A user-given name as a message quotes it: long ones cut in the middle, so the message stays readable."""
    if len(name) <= limit:
        return name
    keep = (limit - 1) // 2
    return f"{name[:keep]}…{name[-keep:]}"


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """Return ' (did you mean a, b?)' for the closest candidates, or ''."""
    pool = list(candidates)
    close = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if not close:
        # Fall back to substring matches: 'tuning_jobs' should find 'hyperparameter_tuning_jobs'.
        short = name.rsplit(".", 1)[-1].lower()
        close = [c for c in pool if short and short in c.lower()][:n]
    return f" (did you mean {', '.join(close)}?)" if close else ""
