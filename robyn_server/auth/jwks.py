"""The public keys of a JWKS URL, cached, fetched without blocking the event loop.

Issuers (Supabase, Auth0, Clerk, Keycloak) rotate keys by publishing the new key in their
JWKS before they sign with it, so a token whose `kid` is not in the cache triggers a
refresh. Anyone can send tokens with made-up `kid`s, though, so refreshes are
rate-limited: at most one fetch per `min_refresh_seconds`, however many requests ask, and
concurrent requests share that one fetch. A failed refresh keeps the keys already known
(an issuer outage does not lock every user out); with no key known at all, verification
is impossible and `JwksUnavailable` says so.

PyJWT parses the keys (`PyJWK`); nothing here touches key material by hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
from jwt import PyJWK

logger = logging.getLogger(__name__)

# Key types that hold public keys. "oct" (a shared secret) is never taken from a key set:
# a published HMAC key would let anyone sign.
_PUBLIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})


class JwksUnavailable(Exception):
    """No key is known because the key set could not be fetched (a server-side problem)."""


class SigningKeyNotFound(Exception):
    """The token names a key the issuer does not publish, or one unfit for its algorithm."""


class JwksFetchError(Exception):
    """One fetch of the key set failed; the message says why, for the server log."""


class JwksCache:
    """The signing keys published at `url`, for `JwtVerifier`."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 10.0,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._timeout_seconds = timeout_seconds
        self._clock = clock
        self._keys: list[dict[str, Any]] | None = None
        self._fetched_at = 0.0
        self._last_attempt: float | None = None
        # PyJWK objects parse their key once; tokens reuse them until the next refresh.
        self._prepared: dict[tuple[str | None, str], PyJWK] = {}
        self._inflight: asyncio.Future[None] | None = None

    async def signing_key(self, kid: str | None, algorithm: str) -> PyJWK:
        """The key that verifies a token with header `kid` and `alg` (already checked
        against the allowed algorithms)."""
        if self._keys is None or self._clock() - self._fetched_at >= self._cache_seconds:
            await self._refresh()
        if self._keys is None:
            raise JwksUnavailable(f"the signing keys at {self.url} could not be fetched")
        jwk = self._find(kid)
        if jwk is None and kid is not None:
            # Perhaps a key published since the last fetch (a rotation).
            await self._refresh()
            jwk = self._find(kid)
        if jwk is None:
            if kid is None:
                raise SigningKeyNotFound(
                    "token has no key id (kid) and the issuer publishes several keys"
                )
            raise SigningKeyNotFound("token's key id (kid) is not among the issuer's keys")
        return self._prepare(jwk, algorithm)

    def _find(self, kid: str | None) -> dict[str, Any] | None:
        keys = self._keys or []
        if kid is None:
            return keys[0] if len(keys) == 1 else None
        return next((key for key in keys if key.get("kid") == kid), None)

    def _prepare(self, jwk: dict[str, Any], algorithm: str) -> PyJWK:
        cache_key = (jwk.get("kid"), algorithm)
        prepared = self._prepared.get(cache_key)
        if prepared is None:
            try:
                # A key that names its algorithm is bound to it (PyJWT then refuses a
                # token claiming another); one that does not is tried with the token's,
                # which PyJWT refuses if the key type cannot do it (RSA key, ES256 token).
                prepared = PyJWK(jwk, None if jwk.get("alg") else algorithm)
            except jwt.PyJWTError as exc:
                raise SigningKeyNotFound(
                    f"the issuer's key for this token cannot verify {algorithm} ({exc})"
                ) from None
            self._prepared[cache_key] = prepared
        return prepared

    async def _refresh(self) -> None:
        """Fetch the key set, unless a fetch is under way (then wait for that one) or
        the last one started less than `min_refresh_seconds` ago."""
        if self._inflight is None or self._inflight.done():
            now = self._clock()
            if (
                self._last_attempt is not None
                and now - self._last_attempt < self._min_refresh_seconds
            ):
                return
            self._last_attempt = now
            self._inflight = asyncio.ensure_future(self._fetch_and_store(now))
        # Shielded: a request that goes away must not cancel the fetch others wait for.
        await asyncio.shield(self._inflight)

    async def _fetch_and_store(self, started: float) -> None:
        try:
            keys = await self._fetch()
        except JwksFetchError as exc:
            stale = "keeping the keys fetched before" if self._keys else "no key is known"
            logger.warning("JWT auth: %s; %s", exc, stale)
            return
        self._keys, self._fetched_at = keys, started
        self._prepared.clear()

    async def _fetch(self) -> list[dict[str, Any]]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout_seconds) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise JwksFetchError(f"fetching {self.url} failed: {exc!r}") from None
        if response.status_code != 200:
            raise JwksFetchError(f"{self.url} answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise JwksFetchError(f"{self.url} did not answer JSON") from None
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise JwksFetchError(f"{self.url} answered no 'keys' list")
        usable = [
            key
            for key in keys
            if isinstance(key, dict)
            and key.get("kty") in _PUBLIC_KEY_TYPES
            and key.get("use", "sig") == "sig"
        ]
        if not usable:
            raise JwksFetchError(f"{self.url} publishes no public signing key")
        return usable
