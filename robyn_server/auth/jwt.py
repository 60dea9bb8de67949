"""Built-in bearer-token auth: the `AUTH_JWT_*` settings, with no `auth.py` to write.

`build_jwt_auth` returns an ordinary `langgraph_sdk.Auth`, so the server runs it exactly
as it runs a custom one: its `authenticate` verifies the token (`JwtVerifier`) and turns
the claims into the user; its global `on` handler makes every resource its creator's own
(`owner_scope.scope_to_owner`).

PyJWT does every signature and claim check. What this module adds is policy: which
algorithms are allowed (never `none`, never HMAC with a key set: see config.py), `exp`
required, the key chosen by `kid` from a cached JWKS, and a clear reason for each
rejection.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import jwt
from langgraph_sdk import Auth

from robyn_server.auth.jwks import JwksCache, JwksUnavailable, SigningKeyNotFound
from robyn_server.auth.owner_scope import scope_to_owner
from robyn_server.config import Settings, SettingsError

__all__ = [
    "JwtVerifier",
    "SigningKeysUnavailable",
    "TokenRejected",
    "VerifiedTokens",
    "bearer_token",
    "build_jwt_auth",
    "user_from_claims",
]

T = TypeVar("T")

# Claims that may name the user for display, best first.
_DISPLAY_NAME_CLAIMS = ("name", "preferred_username", "nickname", "email")


class TokenRejected(Exception):
    """The request's credentials are not accepted; `detail` says why, for the client."""

    status_code = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class SigningKeysUnavailable(TokenRejected):
    """The token cannot be checked because the issuer's keys cannot be fetched: the
    server's problem, not the client's, hence 503."""

    status_code = 503


class VerifiedTokens:
    """Tokens verified lately, so a client sending the same token on every request (as
    they all do, for the token's whole life) pays for PyJWT's checks once a minute rather
    than on each request: parsing and verifying costs about 100 µs, a look-up here 1 µs.

    Only tokens that passed every check are kept, so a flood of bad tokens cannot fill
    it. Of their claims only `exp` changes meaning with time (nbf and iat, once passed,
    stay passed), so a hit re-checks `exp`; `ttl_seconds` bounds how long a token outlives
    a key withdrawn from the JWKS.
    """

    def __init__(
        self, *, leeway_seconds: float, ttl_seconds: float = 60.0, max_size: int = 4096
    ) -> None:
        self._leeway = leeway_seconds
        self._ttl = ttl_seconds
        self._max_size = max_size
        # token -> [claims, verified at, what `derived` made of the claims (or None)]
        self._entries: OrderedDict[str, list[Any]] = OrderedDict()

    def _entry(self, token: str) -> list[Any] | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        claims, verified_at, _ = entry
        if (
            time.monotonic() - verified_at > self._ttl
            or time.time() > int(claims["exp"]) + self._leeway
        ):
            # Verified again from scratch, which gives the reason.
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return entry

    def get(self, token: str) -> dict[str, Any] | None:
        entry = self._entry(token)
        return None if entry is None else entry[0]

    def put(self, token: str, claims: dict[str, Any]) -> None:
        self._entries[token] = [claims, time.monotonic(), None]
        self._entries.move_to_end(token)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)

    def derived(self, token: str, derive: Callable[[dict[str, Any]], T]) -> T | None:
        """`derive(claims)` of a token verified lately (None if it is not), made once
        for as long as the token stays verified; `derive` must not change the claims,
        and callers copy what they change of its result."""
        entry = self._entry(token)
        if entry is None:
            return None
        memo = entry[2]
        if memo is None or memo[0] is not derive:
            memo = entry[2] = (derive, derive(entry[0]))
        result: T = memo[1]
        return result


class JwtVerifier:
    """Verifies a token's signature and its exp, nbf, iat, aud and iss claims.

    Exactly one key source: `secret` (HMAC) or `jwks_url` (public keys by `kid`).
    """

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        secret: str | None = None,
        jwks_url: str | None = None,
        audience: Sequence[str] = (),
        issuer: str | None = None,
        leeway_seconds: float = 30,
        jwks_cache_seconds: float = 300,
        jwks_min_refresh_seconds: float = 10.0,
    ) -> None:
        if (secret is None) == (jwks_url is None):
            raise ValueError("JwtVerifier needs exactly one of secret and jwks_url")
        if not algorithms or any(name.lower() == "none" for name in algorithms):
            raise ValueError("JwtVerifier needs signing algorithms, and never 'none'")
        self.algorithms = tuple(algorithms)
        self._secret = secret.encode() if secret is not None else None
        self._jwks = (
            JwksCache(
                jwks_url,
                cache_seconds=jwks_cache_seconds,
                min_refresh_seconds=jwks_min_refresh_seconds,
            )
            if jwks_url is not None
            else None
        )
        self.audience = tuple(audience)
        self.issuer = issuer
        self.leeway_seconds = leeway_seconds
        self._verified = VerifiedTokens(leeway_seconds=leeway_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier:
        if not settings.auth_jwt_enabled:
            raise SettingsError("JWT auth needs AUTH_JWT_SECRET or AUTH_JWT_JWKS_URL")
        return cls(
            algorithms=settings.auth_jwt_allowed_algorithms,
            secret=settings.auth_jwt_secret,
            jwks_url=settings.auth_jwt_jwks_url,
            audience=settings.auth_jwt_audience,
            issuer=settings.auth_jwt_issuer,
            leeway_seconds=settings.auth_jwt_leeway_seconds,
            jwks_cache_seconds=settings.auth_jwt_jwks_cache_seconds,
        )

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, once everything checks out; else `TokenRejected`."""
        claims = self._verified.get(token)
        if claims is None:
            claims = await self._verify(token)
            self._verified.put(token, claims)
        return dict(claims)

    async def verify_derived(self, token: str, derive: Callable[[dict[str, Any]], T]) -> T:
        """`derive` of the token's claims (see `VerifiedTokens.derived`), once everything
        checks out; else `TokenRejected`, or what `derive` raises."""
        result = self._verified.derived(token, derive)
        if result is None:
            self._verified.put(token, await self._verify(token))
            result = self._verified.derived(token, derive)
            assert result is not None
        return result

    async def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("token is malformed (not a signed JWT)") from None
        algorithm = header.get("alg")
        # Checked before any key is looked up: a token with a foreign algorithm never
        # costs a JWKS fetch, and `none` or HMAC-with-a-public-key never get near PyJWT.
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            shown = algorithm if isinstance(algorithm, str) and len(algorithm) <= 16 else "?"
            raise TokenRejected(
                f"token algorithm {shown!r} is not accepted "
                f"(this server accepts {', '.join(self.algorithms)})"
            )
        key = self._secret if self._secret is not None else await self._public_key(header)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                audience=list(self.audience) or None,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": ["exp"], "enforce_minimum_key_length": True},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(self._reason(exc)) from None

    async def _public_key(self, header: Mapping[str, Any]) -> jwt.PyJWK:
        assert self._jwks is not None
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenRejected("token key id (kid) must be a string")
        try:
            return await self._jwks.signing_key(kid, header["alg"])
        except SigningKeyNotFound as exc:
            raise TokenRejected(str(exc)) from None
        except JwksUnavailable:
            raise SigningKeysUnavailable(
                "the server cannot fetch its token signing keys (JWKS) right now; try again later"
            ) from None

    def _reason(self, exc: jwt.PyJWTError) -> str:
        # Most specific first: several of these subclass one another.
        if isinstance(exc, jwt.ExpiredSignatureError):
            return "token has expired"
        if isinstance(exc, jwt.ImmatureSignatureError):
            return "token is not valid yet (its nbf or iat is in the future)"
        if isinstance(exc, jwt.MissingRequiredClaimError):
            return f"token has no '{exc.claim}' claim"
        if isinstance(exc, jwt.InvalidAudienceError):
            if not self.audience:
                return "token has an audience (aud) but the server expects none (AUTH_JWT_AUDIENCE)"
            return "token audience (aud) is not accepted"
        if isinstance(exc, jwt.InvalidIssuerError):
            return "token issuer (iss) is not accepted"
        if isinstance(exc, jwt.InvalidSignatureError):
            return "token signature is invalid"
        if isinstance(exc, jwt.InvalidAlgorithmError):
            return "token algorithm does not match its signing key"
        if isinstance(exc, jwt.InvalidKeyError):
            return "token cannot be verified: the signing key is unusable or too weak"
        if isinstance(exc, jwt.exceptions.InvalidSubjectError):
            return "token subject (sub) must be a string"
        if isinstance(exc, jwt.InvalidIssuedAtError):
            return "token issued-at (iat) must be a number"
        if isinstance(exc, jwt.DecodeError):
            return "token is malformed"
        return "token is invalid"


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750; the scheme is
    case-insensitive)."""
    if not authorization or not authorization.strip():
        raise TokenRejected("missing Authorization header (expected 'Bearer <token>')")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise TokenRejected("Authorization header must be 'Bearer <token>'")
    return token


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    """A claim by name, or by a dotted path into nested claims (Keycloak's
    `realm_access.roles`) when no claim has that exact name (Auth0's namespaced claims
    are URLs, with dots of their own)."""
    if name in claims:
        return claims[name]
    node: Any = claims
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def user_from_claims(
    claims: dict[str, Any],
    *,
    identity_claim: str = "sub",
    permissions_claim: str = "permissions",
) -> dict[str, Any]:
    """The user `authenticate` returns: `identity`, `permissions` (a list, or an OAuth
    `scope`-style space-separated string), `display_name`, `email` when the token has
    one, and every verified claim under `claims` for graphs that need more."""
    identity = _claim(claims, identity_claim)
    if isinstance(identity, int) and not isinstance(identity, bool):
        identity = str(identity)
    if not isinstance(identity, str) or not identity.strip():
        raise TokenRejected(f"token has no usable '{identity_claim}' claim (the user's identity)")
    granted = _claim(claims, permissions_claim)
    if granted is None:
        permissions: list[str] = []
    elif isinstance(granted, str):
        permissions = granted.split()
    elif isinstance(granted, list) and all(isinstance(item, str) for item in granted):
        permissions = list(granted)
    else:
        raise TokenRejected(
            f"token claim '{permissions_claim}' must be a list of strings or a "
            "space-separated string"
        )
    display_name = identity
    for name in _DISPLAY_NAME_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            display_name = value
            break
    user: dict[str, Any] = {
        "identity": identity,
        "is_authenticated": True,
        "display_name": display_name,
        "permissions": permissions,
        "claims": claims,
    }
    if isinstance(claims.get("email"), str):
        user["email"] = claims["email"]
    return user


def _www_authenticate(error: TokenRejected, had_token: bool) -> dict[str, str]:
    # RFC 6750 3: no error code when the request carried no credentials.
    if error.status_code != 401:
        return {}
    if not had_token:
        return {"WWW-Authenticate": "Bearer"}
    description = error.detail.replace("\\", "").replace('"', "'")
    return {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'}


def build_jwt_auth(settings: Settings, *, verifier: JwtVerifier | None = None) -> Auth:
    """An `Auth` that authenticates with the `AUTH_JWT_*` settings and scopes every
    resource to its owner. `verifier` replaces the one the settings describe (tests)."""
    verifier = verifier or JwtVerifier.from_settings(settings)
    identity_claim = settings.auth_jwt_identity_claim
    permissions_claim = settings.auth_jwt_permissions_claim
    auth = Auth()

    def to_user(claims: dict[str, Any]) -> dict[str, Any]:
        return user_from_claims(
            claims, identity_claim=identity_claim, permissions_claim=permissions_claim
        )

    @auth.authenticate
    async def authenticate(authorization: str | None) -> dict[str, Any]:
        try:
            token = bearer_token(authorization)
        except TokenRejected as exc:
            raise Auth.exceptions.HTTPException(
                status_code=exc.status_code,
                detail=exc.detail,
                headers=_www_authenticate(exc, had_token=False),
            ) from None
        try:
            # Made once per verified token and shared by its requests: each gets its
            # own copies of what it may change, as if made afresh.
            user = await verifier.verify_derived(token, to_user)
            return {
                **user,
                "permissions": list(user["permissions"]),
                "claims": dict(user["claims"]),
            }
        except TokenRejected as exc:
            raise Auth.exceptions.HTTPException(
                status_code=exc.status_code,
                detail=exc.detail,
                headers=_www_authenticate(exc, had_token=True),
            ) from None

    auth.on(scope_to_owner)
    return auth
