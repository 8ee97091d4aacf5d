"""Access tokens shared between skyql processes, so a one-off `skyql exec` skips the key parsing and the token
exchange while an earlier token is still good.

Only service-account keys are cached, in the user's cache folder (`$SKYQL_CACHE_DIR`, else
`$XDG_CACHE_HOME/skyql`, else `~/.cache/skyql`), one file per key and scopes: mode 0600 in a 0700 folder, written
atomically, ignored unless owned by the user and private. A token is reused only while it has more than five
minutes left. `SKYQL_TOKEN_CACHE=off` turns the cache off. Nothing here imports google-auth: on a hit, skyql
never needs it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("skyql.fetch.tokencache")

MARGIN_S = 300  # a cached token with less left than this is not used (google-auth refreshes at 3 min 45 s)


def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Where skyql keeps files for the user between runs."""
    if env.get("SKYQL_CACHE_DIR"):
        return Path(env["SKYQL_CACHE_DIR"])
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "skyql"


def default_cache(env: Mapping[str, str] = os.environ) -> TokenCache | None:
    """The user's token cache, or None when SKYQL_TOKEN_CACHE turns it off."""
    if env.get("SKYQL_TOKEN_CACHE", "").strip().lower() in ("0", "off", "false", "no"):
        return None
    return TokenCache(cache_dir(env) / "tokens")


class TokenCache:
    """Tokens on disk, keyed by a hash of the key's identity (account, key id, key, token URI) and scopes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def key_for(info: Mapping[str, Any], scopes: tuple[str, ...]) -> str:
        identity = {
            "account": info.get("client_email"),
            "key_id": info.get("private_key_id"),
            # The key itself too: a file that claims an account and key id without holding the key gets nothing.
            "key": hashlib.sha256(str(info.get("private_key", "")).encode()).hexdigest(),
            "token_uri": info.get("token_uri"),
            "scopes": sorted(scopes),
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    def load(self, key: str, now: float | None = None) -> tuple[str, float] | None:
        """(token, expiry as epoch seconds) if a private, unexpired entry exists."""
        path = self.folder / f"{key}.json"
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
                log.debug("ignoring token cache file %s: not a private file of this user", path)
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                entry = json.loads(f.read(65536))
            token, expiry = entry["token"], float(entry["expiry"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        finally:
            os.close(fd)
        if not isinstance(token, str) or expiry - (now if now is not None else time.time()) <= MARGIN_S:
            return None
        return token, expiry

    def store(self, key: str, token: str, expiry: float) -> None:
        """Write atomically; a cache that cannot be written is skipped, never an error."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")  # mode 0600
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump({"token": token, "expiry": expiry}, f)
                os.replace(tmp, self.folder / f"{key}.json")
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            log.debug("token cache not written: %s", exc.strerror)
            return
        self._prune()

    def _prune(self) -> None:
        """Drop entries that have expired, so keys used once (a test's, a rotated one) don't pile up."""
        now = time.time()
        for path in self.folder.glob("*.json"):
            try:
                if json.loads(path.read_text())["expiry"] < now:
                    path.unlink()
            except (OSError, ValueError, KeyError, TypeError):
                continue


class CachedKeyCredentials:
    """A service-account key whose token may come from the cache; the private key is parsed only to mint one.

    Duck-types the part of google-auth's Credentials that skyql uses (token, valid, apply, refresh).
    """

    def __init__(
        self,
        info: Mapping[str, Any],
        scopes: tuple[str, ...],
        cache: TokenCache,
        make: Callable[[], Any],
    ) -> None:
        self.service_account_email = str(info.get("client_email") or "")
        self.quota_project_id = info.get("quota_project_id")
        self._cache = cache
        self._key = cache.key_for(info, scopes)
        self._make = make
        self._real: Any = None
        self.token: str | None = None
        self.expiry: datetime.datetime | None = None  # naive UTC, as google-auth keeps it
        hit = cache.load(self._key)
        if hit is None:
            self._real = make()  # a bad key is reported now, as without the cache
        else:
            self.token = hit[0]
            self.expiry = datetime.datetime.fromtimestamp(hit[1], datetime.UTC).replace(tzinfo=None)

    @property
    def valid(self) -> bool:
        if self.token is None or self.expiry is None:
            return False
        left = self.expiry - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        return left.total_seconds() > MARGIN_S

    def apply(self, headers: dict[str, str], token: str | None = None) -> None:
        headers["authorization"] = f"Bearer {token or self.token}"
        if self.quota_project_id:
            headers["x-goog-user-project"] = str(self.quota_project_id)

    def refresh(self, request: Any) -> None:
        if self._real is None:
            self._real = self._make()
        self._real.refresh(request)
        self.token, self.expiry = self._real.token, self._real.expiry
        if self.token and self.expiry:
            epoch = self.expiry.replace(tzinfo=datetime.UTC).timestamp()
            self._cache.store(self._key, self.token, epoch)
