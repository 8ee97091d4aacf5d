"""Credentials: StackQL-shaped auth JSON -> google-auth credentials, and tokens refreshed once for all."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from skyql.errors import ApiError, ConfigError
from skyql.fetch.tokencache import CachedKeyCredentials, TokenCache
from skyql.fetch.wire import is_loopback

if TYPE_CHECKING:
    import httpx
    from google.auth.credentials import Credentials

# google-auth and httpx are imported where they are used: with a cached token (fetch/tokencache.py) a statement
# needs neither, and they cost about 0.1 s to import.

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
AUTH_TYPES = ("service_account", "interactive")
log = logging.getLogger("skyql.fetch.auth")


def load_credentials(
    auth: dict[str, Any] | str | None,
    env: Mapping[str, str] = os.environ,
    cache: TokenCache | None = None,
) -> Credentials | None:
    """Credentials from `--auth` JSON, else GOOGLE_CREDENTIALS, else ADC; None when there are none.

    With `cache`, a service-account key's token is shared with other processes (fetch/tokencache.py)."""
    config = _google_section(auth)
    if config is not None:
        return _from_config(config, env, cache)
    key = env.get("GOOGLE_CREDENTIALS")
    if key:
        return _from_key_text(key, "the GOOGLE_CREDENTIALS variable", cache)
    import google.auth
    import google.auth.exceptions

    try:
        creds, _ = google.auth.default(scopes=SCOPES)
    except google.auth.exceptions.DefaultCredentialsError:
        return None  # anonymous: the API answers 401 and the message says how to log in
    return creds


def _google_section(auth: dict[str, Any] | str | None) -> dict[str, Any] | None:
    if auth is None or auth == "":
        return None
    if isinstance(auth, str):
        try:
            auth = json.loads(auth)
        except ValueError as exc:
            raise ConfigError(
                f"the auth setting is not valid JSON ({exc.args[0].split(':')[0]}); expected e.g."
                ' {"google": {"type": "service_account", "credentialsfilepath": "key.json"}}'
            ) from None
    if not isinstance(auth, dict):
        raise ConfigError('the auth setting must be a JSON object, e.g. {"google": {"type": "interactive"}}')
    if "google" in auth:
        section = auth["google"]
        if not isinstance(section, dict):
            raise ConfigError('auth for google must be an object, e.g. {"type": "interactive"}')
        return section
    if "type" in auth:
        return auth
    return None  # auth for other providers only


def _from_config(config: dict[str, Any], env: Mapping[str, str], cache: TokenCache | None) -> Credentials:
    kind = config.get("type")
    if kind == "interactive":
        import google.auth
        import google.auth.exceptions

        try:
            creds, _ = google.auth.default(scopes=SCOPES)
        except google.auth.exceptions.DefaultCredentialsError:
            raise ConfigError(
                "auth type 'interactive' needs Application Default Credentials:"
                " run `gcloud auth application-default login`"
            ) from None
        return creds
    if kind == "service_account":
        if config.get("credentialsfilepath"):
            path = Path(os.path.expanduser(str(config["credentialsfilepath"])))
            try:
                text = path.read_text()
            except FileNotFoundError:
                raise ConfigError(
                    f"credentials file {path} not found: fix credentialsfilepath in the auth setting"
                ) from None
            except OSError as exc:
                raise ConfigError(f"cannot read credentials file {path}: {exc.strerror}") from None
            return _from_key_text(text, f"credentials file {path}", cache)
        if config.get("credentialsenvvar"):
            var = str(config["credentialsenvvar"])
            text = env.get(var)
            if not text:
                raise ConfigError(f"environment variable {var} (credentialsenvvar) is not set or empty")
            return _from_key_text(text, f"the {var} variable", cache)
        raise ConfigError("auth type 'service_account' needs credentialsfilepath or credentialsenvvar")
    raise ConfigError(f"unknown auth type {kind!r} for google: use one of {', '.join(AUTH_TYPES)}")


def _from_key_text(text: str, source: str, cache: TokenCache | None = None) -> Credentials:
    try:
        info = json.loads(text)
    except ValueError as exc:
        # The decoder's message has the position only, never the text: safe to show.
        raise ConfigError(f"{source} is not a valid JSON key ({exc.args[0]})") from None
    if not isinstance(info, dict):
        raise ConfigError(f"{source} is not a JSON key object")
    _check_token_uri(info, source)

    def make() -> Credentials:
        import google.auth.exceptions

        try:
            return _credentials_from_info(info)
        # A malformed key of a less common type (external_account, impersonated_service_account) can make
        # google-auth fail with any of these rather than with its own errors.
        except (google.auth.exceptions.GoogleAuthError, ValueError) as exc:
            raise ConfigError(f"{source} is not a usable Google key: {_safe_reason(exc)}") from None
        except (TypeError, KeyError, AttributeError):
            raise ConfigError(
                f"{source} is not a usable Google key: a field of its {str(info.get('type'))[:40]!r} key is"
                " missing or of the wrong type (compare it with the file gcloud or the Cloud console wrote)"
            ) from None

    if cache is not None and info.get("type") == "service_account":
        return CachedKeyCredentials(info, SCOPES, cache, make)  # type: ignore[return-value]
    return make()


def _check_token_uri(info: dict[str, Any], source: str) -> None:
    """The key is signed into a token at its token_uri: https, or this machine (an emulator), never plain http."""
    for field in ("token_uri", "token_url"):
        url = info.get(field)
        if url is None:
            continue
        parts = urlsplit(url) if isinstance(url, str) else None
        if (
            parts is None
            or not parts.hostname
            or not (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname)))
        ):
            shown = (
                f"{parts.scheme}://{parts.hostname}"
                if parts is not None and parts.hostname
                else repr(url)[:80]
            )
            raise ConfigError(
                f"{source} has a {field} skyql will not send credentials to ({shown}): it must be an https URL,"
                " or http to a loopback address (an emulator)"
            )


def _credentials_from_info(info: dict[str, Any]) -> Credentials:
    """Credentials for a key of any type gcloud writes; the common two without the generic loader."""
    import google.auth
    import google.oauth2.credentials
    import google.oauth2.service_account

    kind = info.get("type")
    if kind == "service_account":
        return google.oauth2.service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    if kind == "authorized_user":
        return google.oauth2.credentials.Credentials.from_authorized_user_info(info, scopes=SCOPES)
    with warnings.catch_warnings():
        # The generic loader warns about untrusted configurations: this one is the user's own key.
        warnings.simplefilter("ignore", DeprecationWarning)
        creds, _ = google.auth.load_credentials_from_dict(info, scopes=SCOPES)
    return creds


def _safe_reason(exc: BaseException) -> str:
    """An exception's reason without key material (cryptography errors can quote the input)."""
    cause = exc.__cause__ or exc
    text = str(cause.args[0]) if cause.args else type(cause).__name__
    if "PRIVATE KEY" in text or len(text) > 300:
        return type(cause).__name__
    return text


def _who(creds: Credentials) -> str:
    """The account behind credentials, for logs (never a secret)."""
    return str(getattr(creds, "service_account_email", None) or type(creds).__name__)


class _AuthResponse:
    """google-auth's transport Response interface (duck-typed, so google-auth is imported only to refresh)."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxAuthRequest:
    """google-auth's transport Request interface over a sync httpx.Client, so `requests` is not needed.

    Takes the client, or a function making it on the first token request (its TLS setup costs ~40 ms)."""

    def __init__(self, client: httpx.Client | Callable[[], httpx.Client]) -> None:
        self._client_or_factory = client
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            made = self._client_or_factory
            self._client = made if not callable(made) else made()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _AuthResponse:
        import google.auth.exceptions
        import httpx

        try:
            response = self.client.request(
                method, url, content=body, headers=headers, timeout=timeout if timeout else 30.0
            )
        except httpx.HTTPError as exc:
            raise google.auth.exceptions.TransportError(f"{type(exc).__name__}: {exc}") from exc
        return _AuthResponse(response)


class TokenSource:
    """Auth headers for requests; refreshes off the event loop, once however many requests wait."""

    def __init__(self, credentials: Credentials | None, transport: HttpxAuthRequest) -> None:
        self.credentials = credentials
        self._transport = transport
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    @property
    def token(self) -> str | None:
        """The current token, only to scrub it from messages."""
        return getattr(self.credentials, "token", None) if self.credentials else None

    async def headers(self) -> dict[str, str]:
        """Authorization (and quota project) headers; {} when anonymous."""
        creds = self.credentials
        if creds is None:
            return {}
        if not creds.valid:
            await self.refresh(None)
        headers: dict[str, str] = {}
        creds.apply(headers)
        return headers

    async def refresh(self, stale: str | None) -> None:
        """Refresh unless another request already replaced the `stale` token (None: refresh if invalid)."""
        creds = self.credentials
        if creds is None:
            return
        async with self._lock():
            current = getattr(creds, "token", None)
            if (stale is None and creds.valid) or (stale is not None and current != stale and creds.valid):
                return
            log.debug("getting an access token for %s", _who(creds))
            import google.auth.exceptions

            try:
                await asyncio.to_thread(creds.refresh, self._transport)
            except google.auth.exceptions.RefreshError as exc:
                raise ConfigError(
                    f"the credentials were refused when getting an access token ({_safe_reason(exc)});"
                    " fix the key or log in again"
                ) from None
            except google.auth.exceptions.TransportError as exc:
                raise ApiError(
                    f"cannot reach the token endpoint to get an access token ({_safe_reason(exc)})"
                ) from None
            except (
                google.auth.exceptions.GoogleAuthError,
                ValueError,
                TypeError,
                KeyError,
                AttributeError,
                OSError,
            ) as exc:
                # External account keys get a token from a file, a URL or a program first: that can fail too.
                raise ConfigError(
                    f"cannot get an access token with these credentials ({_safe_reason(exc)}); fix the key file"
                ) from None

    def _lock(self) -> asyncio.Lock:
        # asyncio locks belong to one event loop; a session may run statements on several.
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = asyncio.Lock()
            self._locks = {loop: lock}  # forget the locks of finished loops
        return lock
