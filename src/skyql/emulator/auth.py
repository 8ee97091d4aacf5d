"""OAuth2 as Google does it for service accounts: keys, the JWT-bearer token grant, bearer-token checks."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from skyql.emulator.status import GoogleError

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOCK_SKEW = 300  # seconds a JWT's iat/exp may be off, as Google allows
MAX_LIFETIME = 3600  # Google rejects assertions valid for longer than an hour

UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class TokenError(Exception):
    """An OAuth2 error at the token endpoint: `{"error": ..., "error_description": ...}` with HTTP 400."""

    def __init__(self, error: str, description: str, code: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.code = code

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class ServiceAccountKey:
    """One RSA key the emulator made, and the service account it belongs to."""

    key_id: str
    client_email: str
    private_pem: str
    public_key: rsa.RSAPublicKey

    def info(self, token_uri: str, project: str) -> dict[str, Any]:
        """The key file JSON, as the Cloud console downloads it, with token_uri pointing at the emulator."""
        return {
            "type": "service_account",
            "project_id": project,
            "private_key_id": self.key_id,
            "private_key": self.private_pem,
            "client_email": self.client_email,
            "client_id": str(int(self.key_id[:15], 16)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + self.client_email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }


def new_key(project: str) -> ServiceAccountKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return ServiceAccountKey(
        key_id=secrets.token_hex(20),
        client_email=f"skyql-emulator@{project}.iam.gserviceaccount.com",
        private_pem=pem,
        public_key=private.public_key(),
    )


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass
class Authority:
    """Issues and checks access tokens; knows only the keys it made."""

    project: str = "demo-project"
    token_ttl: float = 3600
    keys: dict[str, ServiceAccountKey] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch seconds)
    issued: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key(self) -> ServiceAccountKey:
        """The emulator's service-account key, made on first use (RSA generation takes ~0.1 s)."""
        with self._lock:
            if not self.keys:
                k = new_key(self.project)
                self.keys[k.key_id] = k
            return next(iter(self.keys.values()))

    def verify_jwt(self, token: str, audiences: set[str] | None) -> dict[str, Any]:
        """The claims of an RS256 JWT signed by one of our keys; TokenError when it is not valid."""
        try:
            head_b64, claims_b64, sig_b64 = token.split(".")
            header = json.loads(_b64decode(head_b64))
            claims = json.loads(_b64decode(claims_b64))
            signature = _b64decode(sig_b64)
        except (ValueError, TypeError):
            raise TokenError("invalid_grant", "Invalid JWT: not a signed JWT.") from None
        if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
            raise TokenError("invalid_grant", "Invalid JWT: only RS256-signed JWTs are accepted.")
        key = self.keys.get(str(header.get("kid"))) if header.get("kid") else None
        candidates = [key] if key else list(self.keys.values())
        signed = f"{head_b64}.{claims_b64}".encode()
        for k in candidates:
            try:
                k.public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
                break
            except InvalidSignature:
                continue
        else:
            raise TokenError("invalid_grant", "Invalid JWT Signature.")
        now = time.time()
        try:
            exp, iat = float(claims["exp"]), float(claims["iat"])
        except (KeyError, TypeError, ValueError):
            raise TokenError("invalid_grant", "Invalid JWT: iat and exp are required.") from None
        if exp < now - CLOCK_SKEW or iat > now + CLOCK_SKEW or exp - iat > MAX_LIFETIME:
            raise TokenError(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
                "Check your iat and exp values in the JWT claim.",
            )
        if audiences is not None and claims.get("aud") not in audiences:
            raise TokenError("invalid_grant", "Invalid JWT: Failed audience check.")
        return claims

    def grant(self, form: dict[str, str], audiences: set[str]) -> dict[str, Any]:
        """The token endpoint: exchange a JWT-bearer assertion for an access token."""
        grant_type = form.get("grant_type", "")
        if grant_type != JWT_BEARER:
            raise TokenError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        assertion = form.get("assertion")
        if not assertion:
            raise TokenError("invalid_request", "Missing required parameter: assertion")
        claims = self.verify_jwt(assertion, audiences)
        if not claims.get("scope") and not claims.get("target_audience"):
            raise TokenError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        token = "ya29.emu-" + secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = time.time() + self.token_ttl
            self.issued.append(token)
        return {"access_token": token, "expires_in": int(self.token_ttl), "token_type": "Bearer"}

    def check(self, authorization: str | None) -> None:
        """A 401 in Google's format unless the header carries a live token (or a self-signed JWT of ours)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated("CREDENTIALS_MISSING")
        expiry = self.tokens.get(token)
        if expiry is not None:
            if expiry > time.time():
                return
            raise _unauthenticated("ACCESS_TOKEN_EXPIRED")
        if token.count(".") == 2 and self.keys:
            try:
                self.verify_jwt(token, None)
                return
            except TokenError:
                pass
        raise _unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED")


def _unauthenticated(reason: str) -> GoogleError:
    return GoogleError(
        401,
        UNAUTHENTICATED,
        "UNAUTHENTICATED",
        reason=reason,
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )
