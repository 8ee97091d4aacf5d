"""skyql: SQL over Google Cloud APIs."""

from skyql.errors import ApiError, ConfigError, NotFoundError, ParameterError, SkyqlError, SqlError

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "ConfigError",
    "NotFoundError",
    "ParameterError",
    "SkyqlError",
    "SqlError",
    "__version__",
    "connect",
]


def connect(*args, **kwargs):
    """Open a PEP 249 connection (see skyql.dbapi.connect)."""
    from skyql.dbapi import connect as _connect

    return _connect(*args, **kwargs)
