"""Tokens for JWT auth tests: signing keys, tokens signed with them, and a JWKS on loopback.

    keys = JwksServer(rsa_signing_key("k1")).start()
    env = keys.server_env(audience="authenticated", issuer=ISSUER)   # for ServerProcess
    token = keys.keys[0].sign(claims("alice", aud="authenticated", iss=ISSUER))
    headers = bearer(token)

`hs256_token` and `hs256_env` do the same for a shared secret. Everything is signed with
PyJWT, the library the server verifies with, except the deliberately broken tokens
(`unsigned_token`), which no library would make.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.loopback import LoopbackServer

ISSUER = "https://issuer.test/auth/v1"
AUDIENCE = "authenticated"
# 32 bytes or more, as AUTH_JWT_SECRET requires.
SECRET = "test-secret-of-at-least-thirty-two-bytes"


def claims(
    sub: str | None = "alice",
    *,
    aud: str | list[str] | None = None,
    iss: str | None = None,
    ttl: float = 300,
    issued_ago: float = 0,
    **extra: Any,
) -> dict[str, Any]:
    """A token payload: `exp` `ttl` seconds from now (negative: already expired), `iat`
    `issued_ago` seconds ago (negative: in the future)."""
    now = time.time()
    payload: dict[str, Any] = {"iat": int(now - issued_ago), "exp": int(now + ttl)}
    for name, value in (("sub", sub), ("aud", aud), ("iss", iss)):
        if value is not None:
            payload[name] = value
    payload.update(extra)
    return payload


@dataclass
class SigningKey:
    """An asymmetric key pair as an issuer holds it; `jwk()` is what its JWKS publishes."""

    kid: str | None
    algorithm: str
    private_key: Any
    publish_alg: bool = True

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, Any]:
        if self.algorithm.startswith(("RS", "PS")):
            data = jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        else:
            data = jwt.algorithms.ECAlgorithm.to_jwk(self.public_key, as_dict=True)
        data["use"] = "sig"
        if self.kid is not None:
            data["kid"] = self.kid
        if self.publish_alg:
            data["alg"] = self.algorithm
        return data

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, payload: dict[str, Any], **header: Any) -> str:
        """`payload` signed with this key; `header` adds to (or, with None values,
        removes from) the JOSE header, whose `kid` is the key's."""
        fields: dict[str, Any] = {"kid": self.kid} if self.kid is not None else {}
        fields.update(header)
        fields = {k: v for k, v in fields.items() if v is not None}
        return jwt.encode(payload, self.private_key, algorithm=self.algorithm, headers=fields)


def rsa_signing_key(kid: str | None = "rsa-1", algorithm: str = "RS256") -> SigningKey:
    return SigningKey(
        kid, algorithm, rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )


def ec_signing_key(kid: str | None = "ec-1") -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def hs256_token(payload: dict[str, Any], secret: str = SECRET, **header: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=header or None)


def hs256_signed_with(secret: bytes, payload: dict[str, Any], kid: str | None) -> str:
    """The algorithm-confusion attack: an HS256 token whose HMAC key is the issuer's
    public key, which anyone can download. PyJWT refuses to make one, hence by hand."""

    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(payload: dict[str, Any], alg: str = "none") -> str:
    """An `alg: none` token (RFC 7519 6.1): header and payload, empty signature."""
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hs256_env(
    secret: str = SECRET, *, audience: str | None = AUDIENCE, issuer: str | None = ISSUER
) -> dict[str, str]:
    """`AUTH_JWT_*` settings for a server that accepts `hs256_token`s."""
    env = {"AUTH_JWT_SECRET": secret}
    if audience is not None:
        env["AUTH_JWT_AUDIENCE"] = audience
    if issuer is not None:
        env["AUTH_JWT_ISSUER"] = issuer
    return env


class JwksServer:
    """A JWKS endpoint on loopback, as Supabase or Auth0 serve theirs: `publish` changes
    the keys (a rotation), `fail_with` makes it answer an error, `fetches` counts the
    requests it got."""

    PATH = "/auth/v1/.well-known/jwks.json"

    def __init__(self, *keys: SigningKey) -> None:
        self._lock = threading.Lock()
        self.keys: list[SigningKey] = list(keys)
        self._status = 200
        self._fetches = 0
        self._server = LoopbackServer(Starlette(routes=[Route(self.PATH, self._serve)]))

    @property
    def url(self) -> str:
        return f"{self._server.base_url}{self.PATH}"

    @property
    def fetches(self) -> int:
        with self._lock:
            return self._fetches

    def publish(self, *keys: SigningKey) -> None:
        with self._lock:
            self.keys = list(keys)
            self._status = 200

    def fail_with(self, status: int) -> None:
        with self._lock:
            self._status = status

    def server_env(
        self, *, audience: str | None = AUDIENCE, issuer: str | None = ISSUER
    ) -> dict[str, str]:
        """`AUTH_JWT_*` settings for a server that verifies with these keys."""
        env = {"AUTH_JWT_JWKS_URL": self.url}
        if audience is not None:
            env["AUTH_JWT_AUDIENCE"] = audience
        if issuer is not None:
            env["AUTH_JWT_ISSUER"] = issuer
        return env

    def start(self) -> JwksServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> JwksServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self, request: Request) -> Response:
        with self._lock:
            self._fetches += 1
            status, keys = self._status, list(self.keys)
        if status != 200:
            return Response("unavailable", status_code=status)
        return JSONResponse({"keys": [key.jwk() for key in keys]})


def random_kid() -> str:
    return uuid.uuid4().hex
