"""The Emulator: one local endpoint serving every Google API of the registry, for tests, notebooks and CI."""

from __future__ import annotations

import gzip
import ipaddress
import json
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from skyql.emulator.api import Api, ApiRequest, Config
from skyql.emulator.auth import Authority, TokenError
from skyql.emulator.faults import Fault, Faults
from skyql.emulator.server import EmulatorHTTPServer, Headers, Reply
from skyql.emulator.status import GoogleError
from skyql.emulator.store import dumps
from skyql.registry import Registry

log = logging.getLogger("skyql.emulator")
CONTROL = "/_emulator/"
TOKEN_PATH = "/token"
LOG_LIMIT = 200_000
GOOGLE_TOKEN_AUDIENCES = (
    "https://oauth2.googleapis.com/token",
    "https://www.googleapis.com/oauth2/v4/token",
    "https://accounts.google.com/o/oauth2/token",
)


_registry: Registry | None = None


def shared_registry() -> Registry:
    """One default Registry per process: services load once however many emulators start."""
    global _registry
    if _registry is None:
        _registry = Registry()
    return _registry


def _wants_gzip(headers: Headers) -> bool:
    """Google's rule (its performance guide): Accept-Encoding names gzip and the User-Agent contains it."""
    return (
        "gzip" in headers.get("Accept-Encoding", "").lower()
        and "gzip" in headers.get("User-Agent", "").lower()
    )


class Emulator:
    """A local Google API endpoint; `with Emulator() as emu:` serves it on a background thread at `emu.url`."""

    def __init__(
        self,
        seed: int = 0,
        rows: int = 5,
        page_size_cap: int = 50,
        latency_ms: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        require_auth: bool = True,
        operation_polls: int = 2,
        token_ttl: float = 3600,
        prefer: tuple[str, ...] = ("aiplatform", "ml"),
        registry: Registry | None = None,
        gzip: bool = False,
    ) -> None:
        self.host = host
        # As Google: compress an answer for a client that sends Accept-Encoding: gzip and says gzip in its
        # User-Agent. Off by default: on loopback, compressing costs more than the bytes it saves.
        self.gzip = gzip
        self.port = port
        self.require_auth = require_auth
        self.latency_ms = latency_ms
        self.config = Config(
            seed=seed,
            rows=rows,
            page_size_cap=page_size_cap,
            operation_polls=operation_polls,
            prefer=tuple(prefer),
        )
        self.api = Api(registry or shared_registry(), self.config)
        self.auth = Authority(project=self.config.project, token_ttl=token_ttl)
        self.faults = Faults()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._server is None:
            self._server = EmulatorHTTPServer((self.host, self.port), self._process)
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.2},
                name=f"skyql-emulator:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        server.close_connections()
        server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    # ----- the Python API --------------------------------------------------------------------------------

    @property
    def key_info(self) -> dict[str, Any]:
        return self.auth.key().info(self.token_uri, self.config.project)

    def make_key(self, path: str | Path, *, replace: bool = False) -> Path:
        """Write a service-account key file (mode 0600) whose token_uri is this emulator's token endpoint.

        An existing path is refused (FileExistsError) unless `replace`; a symlink is never followed: the key
        is written to a new file, which then takes the link's place.
        """
        target = Path(path)
        data = (json.dumps(self.key_info, indent=2) + "\n").encode()
        if not replace:
            _write_new(target, data)
            return target
        temp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        _write_new(temp, data)
        try:
            os.replace(temp, target)
        except OSError:
            temp.unlink(missing_ok=True)
            raise
        return target

    def populate(self, service: str, collection_path: str, count: int) -> int:
        """Add `count` generated items to a collection (`"ml", "projects/bench/jobs"`); returns its size."""
        return self.api.populate(service, collection_path, count)

    def add(self, service: str, collection_path: str, item: dict[str, Any]) -> dict[str, Any]:
        """Insert one item as given (its name and id filled in when missing); returns the stored item."""
        return self.api.add(service, collection_path, item)

    def deny(self, project: str, denied: bool = True) -> None:
        """Answer 403 PERMISSION_DENIED to every call on projects/<project>/... (or stop doing so)."""
        if denied:
            self.api.denied.add(project)
        else:
            self.api.denied.discard(project)

    def inject(
        self,
        status: int | None = None,
        count: int = 3,
        match: str | None = None,
        retry_after: float | None = 1,
        delay_ms: int = 0,
        drop: bool = False,
        in_operation: bool = False,
        probability: float = 1.0,
        seed: int | None = None,
    ) -> None:
        """Make the next `count` API requests whose path contains `match` fail, wait or lose their connection.

        status defaults to 429 unless only a delay or a drop is asked for; `in_operation` lets the request
        succeed and ends the Operation it starts with that error instead. With `probability` < 1 each
        matching request is hit with that chance (drawn from random.Random(seed)) until `count` were hit.
        """
        self.faults.add(
            Fault(
                status=status,
                count=count,
                match=match,
                retry_after=retry_after,
                delay_ms=delay_ms,
                drop=drop,
                in_operation=in_operation,
                probability=probability,
                seed=seed,
            )
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def requests(self) -> list[dict[str, Any]]:
        return list(self._log)

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since start (a client that keeps its connections alive opens few)."""
        return self._server.accepted if self._server is not None else 0

    @property
    def connections_open(self) -> int:
        if self._server is None:
            return 0
        with self._server.conn_lock:
            return len(self._server.connections)

    def clear_log(self) -> None:
        self._log.clear()

    @property
    def issued_tokens(self) -> list[str]:
        return list(self.auth.issued)

    @property
    def token_ttl(self) -> float:
        return self.auth.token_ttl

    @token_ttl.setter
    def token_ttl(self, seconds: float) -> None:
        self.auth.token_ttl = seconds

    # ----- request processing ---------------------------------------------------------------------------

    def _process(self, method: str, target: str, headers: Headers, body: bytes) -> Reply:
        parts = urlsplit(target)
        path = parts.path or "/"
        if path.startswith(CONTROL):
            refused = _control_refusal(method, headers, self.host)
            if refused is not None:
                return refused
            return self._control(method, path[len(CONTROL) :], parts.query, body)
        query = parse_qs(parts.query, keep_blank_values=True)
        host = headers.get("Host")
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": query,
            "body": _loggable(path, body),
            "status": None,
            "start": time.time(),
            "end": None,
            "host": host,
        }
        self._log.append(entry)
        try:
            reply = self._answer(method, path, query, headers, body, host)
        except GoogleError as err:
            reply = Reply(err.code, err.body(), err.headers)
        except TokenError as err:
            reply = Reply(err.code, dumps(err.body()))
        except Exception as exc:  # noqa: BLE001 - any bug must still answer in Google's format
            log.exception("emulator error on %s %s", method, path)
            err = GoogleError(500, f"Internal error in the emulator: {type(exc).__name__}.", "INTERNAL")
            reply = Reply(500, err.body())
        if self.gzip and not reply.drop and reply.body and _wants_gzip(headers):
            reply = Reply(
                reply.status,
                gzip.compress(reply.body, compresslevel=1),
                {**reply.headers, "Content-Encoding": "gzip"},
            )
            entry["encoding"] = "gzip"
        entry["status"] = None if reply.drop else reply.status
        entry["end"] = time.time()
        return reply

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Headers,
        body: bytes,
        host: str | None,
    ) -> Reply:
        is_token = path == TOKEN_PATH
        fault = self.faults.take(method, path, not is_token)
        op_error = None
        if fault is not None:
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000)
            if fault.drop:
                return Reply(0, b"", drop=True)
            if fault.status is not None:
                err = GoogleError(
                    fault.status,
                    _fault_message(fault.status),
                    retry_after=fault.retry_after if fault.status in (429, 503) else None,
                )
                if not fault.in_operation:
                    raise err
                op_error = err
        if is_token:
            return self._token(method, body, host)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if self.require_auth:
            self.auth.check(headers.get("Authorization"))
        req = ApiRequest(method=method, path=path, query=query, body=body, host=host)
        response = self.api.handle(req, op_error)
        return Reply(response.status, response.body, response.headers)

    def _token(self, method: str, body: bytes, host: str | None) -> Reply:
        if method != "POST":
            raise TokenError("invalid_request", "The token endpoint accepts POST only.", 405)
        try:
            form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            raise TokenError("invalid_request", "The request body is not form-encoded.") from None
        # google-auth signs for Google's token endpoint whatever token_uri says, and Google accepts that.
        audiences = {self.token_uri, *GOOGLE_TOKEN_AUDIENCES}
        if host:
            audiences.add(f"http://{host}{TOKEN_PATH}")
        return Reply(200, dumps(self.auth.grant(form, audiences)), {"Cache-Control": "no-store"})

    def _control(self, method: str, what: str, query: str, body: bytes) -> Reply:
        """/_emulator/...: drive a CLI-started emulator from another process."""
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            result = self._control_call(method, what.strip("/"), data)
        except GoogleError as err:
            return Reply(err.code, err.body())
        except (ValueError, TypeError, KeyError) as exc:
            err = GoogleError(400, f"Bad control request: {exc}")
            return Reply(400, err.body())
        except Exception as exc:  # noqa: BLE001 - e.g. an unknown service: report it, do not die
            err = GoogleError(400, str(exc) or type(exc).__name__)
            return Reply(400, err.body())
        return Reply(200, dumps(result))

    def _control_call(self, method: str, what: str, data: dict[str, Any]) -> Any:
        if what == "health":
            return {"status": "ok", "url": self.url}
        if what == "log":
            if method == "DELETE":
                self.clear_log()
                return {}
            return {"requests": self.requests}
        if what == "faults":
            if method == "DELETE":
                self.clear_faults()
                return {}
            if method == "POST":
                fields = {
                    k: data[k]
                    for k in (
                        "status",
                        "count",
                        "match",
                        "retry_after",
                        "delay_ms",
                        "drop",
                        "in_operation",
                        "probability",
                        "seed",
                    )
                    if k in data
                }
                self.inject(**fields)
            return {"faults": [f.as_dict() for f in self.faults.rules]}
        if what == "populate" and method == "POST":
            return {"count": self.populate(data["service"], data["collection"], int(data.get("count", 1)))}
        if what == "add" and method == "POST":
            return self.add(data["service"], data["collection"], data["item"])
        if what == "deny" and method == "POST":
            self.deny(data["project"], bool(data.get("denied", True)))
            return {"denied": sorted(self.api.denied)}
        if what == "key":
            return self.key_info
        if what == "config":
            if method == "POST":
                for key in ("latency_ms", "token_ttl"):
                    if key in data:
                        setattr(self, key, data[key])
                for key in ("operation_polls", "page_size_cap", "rows"):
                    if key in data:
                        setattr(self.config, key, int(data[key]))
            return {
                "latency_ms": self.latency_ms,
                "token_ttl": self.token_ttl,
                "require_auth": self.require_auth,
                "seed": self.config.seed,
                "rows": self.config.rows,
                "page_size_cap": self.config.page_size_cap,
                "operation_polls": self.config.operation_polls,
            }
        raise GoogleError(
            404,
            f"Unknown control endpoint {method} {CONTROL}{what}: try health, log, faults, "
            "populate, add, deny, key or config.",
        )


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` (never an existing file, never through a symlink), private to its owner, holding `data`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _control_refusal(method: str, headers: Headers, bound: str) -> Reply | None:
    """Why a control request is refused, or None: control endpoints hand out the key and drive the emulator.

    A web page must not reach them: DNS rebinding sends the page's own host name (refused here unless it
    is an IP address, localhost or the bound name), and a cross-origin form can POST only text/plain,
    url-encoded or multipart bodies (a JSON content type is required).
    """
    host = (headers.get("Host") or "").strip()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    if not _is_ip(name) and name not in ("localhost", "localhost.localdomain", bound.lower()):
        err = GoogleError(
            403,
            f"Control endpoints answer requests for localhost, an IP address or {bound} only,"
            f" not Host {host[:100]!r}.",
            "PERMISSION_DENIED",
        )
        return Reply(403, err.body())
    if method == "POST":
        kind = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if kind != "application/json":
            err = GoogleError(
                415,
                "Control requests with a body must be sent as Content-Type: application/json.",
                "INVALID_ARGUMENT",
            )
            return Reply(415, err.body())
    return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _loggable(path: str, body: bytes) -> Any:
    """The request body for the log: JSON when it is JSON; token requests without their assertion."""
    if not body:
        return None
    if path == TOKEN_PATH:
        form = parse_qs(body.decode(errors="replace"))
        return {k: ("<redacted>" if k == "assertion" else v[-1]) for k, v in form.items()}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep for json: logged as text
        return body.decode(errors="replace")


def _fault_message(status: int) -> str:
    if status == 429:
        return "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' (injected by the emulator)."
    if status == 503:
        return "The service is currently unavailable (injected by the emulator)."
    return f"Injected failure: HTTP {status}."
