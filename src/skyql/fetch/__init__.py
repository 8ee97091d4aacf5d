"""skyql.fetch: (method, parameter values) -> Requests -> raw Pages, over aiohttp (fetch/wire.py).

Knows nothing of SQL or DuckDB: the planner builds Requests with `build_request`, the engine reads Pages.
"""

from skyql.fetch.auth import HttpxAuthRequest, load_credentials
from skyql.fetch.build import build_request, fields_mask, regional_root
from skyql.fetch.client import Fetcher
from skyql.fetch.options import FetchOptions
from skyql.fetch.request import Page, Request
from skyql.fetch.retry import Clock
from skyql.fetch.wire import is_loopback

__all__ = [
    "Clock",
    "FetchOptions",
    "Fetcher",
    "HttpxAuthRequest",
    "Page",
    "Request",
    "build_request",
    "fields_mask",
    "is_loopback",
    "load_credentials",
    "regional_root",
]
