"""Built-in JWT auth with a shared secret: what a token must satisfy to be accepted, the
reason a client gets when it is not, and the user `authenticate` hands to the server."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from langgraph_sdk import Auth

from robyn_server.auth.jwt import (
    JwtVerifier,
    TokenRejected,
    VerifiedTokens,
    build_jwt_auth,
    user_from_claims,
)
from robyn_server.config import Settings
from tests.support.jwt_tokens import (
    AUDIENCE,
    ISSUER,
    SECRET,
    claims,
    hs256_token,
    unsigned_token,
)


def verifier(**overrides: Any) -> JwtVerifier:
    options: dict[str, Any] = {
        "algorithms": ["HS256"],
        "secret": SECRET,
        "audience": [AUDIENCE],
        "issuer": ISSUER,
        "leeway_seconds": 30,
    }
    options.update(overrides)
    return JwtVerifier(**options)


def token(**fields: Any) -> str:
    fields.setdefault("aud", AUDIENCE)
    fields.setdefault("iss", ISSUER)
    sub = fields.pop("sub", "alice")
    return hs256_token(claims(sub, **fields))


async def rejected(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        await verifier.verify(token)
    assert caught.value.status_code == 401
    return caught.value.detail


async def test_a_valid_token_gives_its_claims() -> None:
    verified = await verifier().verify(token(email="alice@example.com"))
    assert verified["sub"] == "alice"
    assert verified["email"] == "alice@example.com"


async def test_an_expired_token_is_rejected() -> None:
    assert await rejected(verifier(), token(ttl=-120)) == "token has expired"


async def test_leeway_tolerates_clock_skew_and_no_more() -> None:
    just_expired = token(ttl=-10)
    assert (await verifier(leeway_seconds=30).verify(just_expired))["sub"] == "alice"
    assert await rejected(verifier(leeway_seconds=0), just_expired) == "token has expired"


async def test_a_token_not_valid_yet_is_rejected() -> None:
    later = int(time.time()) + 600
    assert "not valid yet" in await rejected(verifier(), token(nbf=later))
    # Issued in the future: a clock far off, or a forged token.
    assert "not valid yet" in await rejected(verifier(), token(issued_ago=-600))
    # A few seconds early is skew, within the leeway.
    assert await verifier().verify(token(nbf=int(time.time()) + 10))


async def test_the_audience_must_match() -> None:
    assert "audience" in await rejected(verifier(), token(aud="someone-else"))
    assert await rejected(verifier(), token(aud=None)) == "token has no 'aud' claim"
    # Any configured audience will do, and a token may name several.
    several = verifier(audience=["api-1", AUDIENCE])
    assert await several.verify(token(aud=AUDIENCE))
    assert await verifier().verify(token(aud=["other", AUDIENCE]))


async def test_a_token_with_an_audience_needs_one_configured() -> None:
    """PyJWT's rule, kept: with no AUTH_JWT_AUDIENCE a token meant for some audience is
    not accepted; the reason names the setting, since that is the usual fix."""
    detail = await rejected(verifier(audience=[]), token(aud=AUDIENCE))
    assert "AUTH_JWT_AUDIENCE" in detail
    assert await verifier(audience=[]).verify(token(aud=None))


async def test_the_issuer_must_match() -> None:
    assert "issuer" in await rejected(verifier(), token(iss="https://evil.test/"))
    assert await rejected(verifier(), token(iss=None)) == "token has no 'iss' claim"
    # Without AUTH_JWT_ISSUER any issuer goes (the key already vouches for it).
    assert await verifier(issuer=None).verify(token(iss="https://other.test/"))


async def test_a_bad_signature_is_rejected() -> None:
    other_secret = hs256_token(claims(aud=AUDIENCE, iss=ISSUER), secret="x" * 40)
    assert await rejected(verifier(), other_secret) == "token signature is invalid"
    header, _, signature = token().split(".")
    forged_payload = token(sub="mallory").split(".")[1]
    assert await rejected(verifier(), f"{header}.{forged_payload}.{signature}") == (
        "token signature is invalid"
    )


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
async def test_unsigned_tokens_are_rejected(alg: str) -> None:
    unsigned = unsigned_token(claims(aud=AUDIENCE, iss=ISSUER), alg=alg)
    assert "not accepted" in await rejected(verifier(), unsigned)


async def test_only_the_configured_algorithms_are_accepted() -> None:
    hs512 = jwt.encode(claims(aud=AUDIENCE, iss=ISSUER), SECRET * 2, algorithm="HS512")
    assert "'HS512' is not accepted" in await rejected(verifier(), hs512)
    assert await verifier(algorithms=["HS512"], secret=SECRET * 2).verify(hs512)


async def test_a_token_without_expiry_is_rejected() -> None:
    payload = claims(aud=AUDIENCE, iss=ISSUER)
    del payload["exp"]
    assert await rejected(verifier(), hs256_token(payload)) == "token has no 'exp' claim"


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "....", "Bearer x"])
async def test_garbage_is_malformed(garbage: str) -> None:
    assert "malformed" in await rejected(verifier(), garbage)


def test_a_verifier_never_accepts_none() -> None:
    with pytest.raises(ValueError, match="never 'none'"):
        JwtVerifier(algorithms=["HS256", "none"], secret=SECRET)
    with pytest.raises(ValueError, match="exactly one"):
        JwtVerifier(algorithms=["HS256"], secret=SECRET, jwks_url="https://x.test/jwks")


async def test_a_token_verified_once_is_not_verified_again() -> None:
    check = verifier()
    valid = token(email="alice@example.com")
    first = await check.verify(valid)
    first["sub"] = "mallory"  # the caller's copy, not the cache's
    assert (await check.verify(valid))["sub"] == "alice"


def test_verified_tokens_expire_with_the_token_and_the_ttl() -> None:
    cache = VerifiedTokens(leeway_seconds=0)
    cache.put("fresh", {"exp": time.time() + 60})
    cache.put("expired", {"exp": time.time() - 1})
    assert cache.get("fresh") is not None
    assert cache.get("expired") is None
    lenient = VerifiedTokens(leeway_seconds=30)
    lenient.put("skewed", {"exp": time.time() - 1})
    assert lenient.get("skewed") is not None
    stale = VerifiedTokens(leeway_seconds=0, ttl_seconds=0)
    stale.put("t", {"exp": time.time() + 60})
    assert stale.get("t") is None


def test_verified_tokens_are_bounded() -> None:
    cache = VerifiedTokens(leeway_seconds=0, max_size=2)
    for name in ("a", "b", "c"):
        cache.put(name, {"exp": time.time() + 60})
    assert cache.get("a") is None
    assert cache.get("b") is not None and cache.get("c") is not None


# --- the user -----------------------------------------------------------------------


def test_permissions_come_as_a_list_or_as_a_scope_string() -> None:
    as_list = user_from_claims({"sub": "a", "permissions": ["threads:read", "store:write"]})
    assert as_list["permissions"] == ["threads:read", "store:write"]
    as_scope = user_from_claims(
        {"sub": "a", "scope": "openid  read write"}, permissions_claim="scope"
    )
    assert as_scope["permissions"] == ["openid", "read", "write"]
    assert user_from_claims({"sub": "a"})["permissions"] == []
    with pytest.raises(TokenRejected, match="list of strings"):
        user_from_claims({"sub": "a", "permissions": {"admin": True}})
    with pytest.raises(TokenRejected, match="list of strings"):
        user_from_claims({"sub": "a", "permissions": ["ok", 3]})


def test_claims_are_found_by_name_or_by_a_dotted_path() -> None:
    keycloak = {"sub": "k", "realm_access": {"roles": ["admin"]}}
    assert user_from_claims(keycloak, permissions_claim="realm_access.roles")["permissions"] == [
        "admin"
    ]
    # Auth0 namespaces custom claims with URLs, dots included: the exact name wins.
    auth0 = {"sub": "a", "https://example.com/roles": ["editor"]}
    assert user_from_claims(auth0, permissions_claim="https://example.com/roles")[
        "permissions"
    ] == ["editor"]
    assert user_from_claims({"user_id": 42}, identity_claim="user_id")["identity"] == "42"


def test_the_user_has_identity_display_name_email_and_claims() -> None:
    supabase = {
        "sub": "8d0c3a40-uuid",
        "email": "alice@example.com",
        "role": "authenticated",
        "app_metadata": {"provider": "email"},
    }
    user = user_from_claims(supabase)
    assert user["identity"] == "8d0c3a40-uuid"
    assert user["display_name"] == "alice@example.com"
    assert user["email"] == "alice@example.com"
    assert user["is_authenticated"] is True
    assert user["claims"]["app_metadata"] == {"provider": "email"}
    assert user_from_claims({"sub": "a", "name": "Alice A."})["display_name"] == "Alice A."
    assert user_from_claims({"sub": "a"})["display_name"] == "a"


@pytest.mark.parametrize("payload", [{}, {"sub": ""}, {"sub": None}, {"sub": ["a"]}, {"sub": True}])
def test_a_token_without_an_identity_is_rejected(payload: dict[str, Any]) -> None:
    with pytest.raises(TokenRejected, match="no usable 'sub' claim"):
        user_from_claims(payload)


# --- authenticate, as the server calls it ---------------------------------------------


def jwt_settings(**overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "auth_jwt_secret": SECRET,
        "auth_jwt_audience": (AUDIENCE,),
        "auth_jwt_issuer": ISSUER,
    }
    options.update(overrides)
    settings = Settings(**options)
    settings.validate()
    return settings


async def authenticate(auth: Auth, authorization: str | None) -> Any:
    handler = auth._authenticate_handler
    assert handler is not None
    return await handler(authorization=authorization)


async def test_authenticate_returns_the_user_of_a_valid_bearer_token() -> None:
    auth = build_jwt_auth(jwt_settings())
    assert isinstance(auth, Auth)
    user = await authenticate(auth, f"Bearer {token(permissions=['a:b'], email='al@x.test')}")
    assert user["identity"] == "alice"
    assert user["permissions"] == ["a:b"]
    assert user["email"] == "al@x.test"
    # The scheme is case-insensitive (RFC 6750).
    assert (await authenticate(auth, f"bearer {token()}"))["identity"] == "alice"


async def test_authenticate_uses_the_configured_claims() -> None:
    auth = build_jwt_auth(
        jwt_settings(auth_jwt_identity_claim="email", auth_jwt_permissions_claim="scope")
    )
    user = await authenticate(auth, f"Bearer {token(email='al@x.test', scope='read write')}")
    assert user["identity"] == "al@x.test"
    assert user["permissions"] == ["read", "write"]


async def test_each_request_gets_its_own_user_from_a_token_seen_before() -> None:
    # The user is made once per verified token; what one request changes of its copy
    # must not reach the next request with the same token.
    auth = build_jwt_auth(jwt_settings())
    bearer = f"Bearer {token(permissions=['a:b'], org={'id': 'o1'})}"
    first = await authenticate(auth, bearer)
    first["permissions"].append("admin")
    first["claims"]["sub"] = "mallory"
    first["display_name"] = "Mallory"
    second = await authenticate(auth, bearer)
    assert second["permissions"] == ["a:b"]
    assert second["claims"]["sub"] == "alice"
    assert second["display_name"] == "alice"
    assert second["claims"]["org"] == {"id": "o1"}


async def test_a_token_without_an_identity_is_refused_every_time() -> None:
    # A verified token whose claims make no user is not remembered as one.
    auth = build_jwt_auth(jwt_settings())
    bearer = f"Bearer {token(sub=None)}"
    for _ in range(2):
        with pytest.raises(Auth.exceptions.HTTPException) as caught:
            await authenticate(auth, bearer)
        assert caught.value.status_code == 401


def test_what_is_derived_from_verified_claims_is_made_once_and_expires_with_them() -> None:
    cache = VerifiedTokens(leeway_seconds=0)
    made: list[str] = []

    def derive(claims: dict[str, Any]) -> str:
        made.append(claims["sub"])
        return claims["sub"].upper()

    assert cache.derived("t", derive) is None  # never verified
    cache.put("t", {"sub": "alice", "exp": time.time() + 60})
    assert cache.derived("t", derive) == cache.derived("t", derive) == "ALICE"
    assert made == ["alice"]
    cache.put("gone", {"sub": "bob", "exp": time.time() - 1})
    assert cache.derived("gone", derive) is None


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing Authorization header"),
        ("", "missing Authorization header"),
        ("Basic YWxpY2U6cHc=", "must be 'Bearer <token>'"),
        ("Bearer", "must be 'Bearer <token>'"),
        ("Bearer    ", "must be 'Bearer <token>'"),
    ],
)
async def test_authenticate_without_a_bearer_token_is_401(
    authorization: str | None, reason: str
) -> None:
    with pytest.raises(Auth.exceptions.HTTPException) as caught:
        await authenticate(build_jwt_auth(jwt_settings()), authorization)
    assert caught.value.status_code == 401
    assert reason in caught.value.detail
    assert caught.value.headers == {"WWW-Authenticate": "Bearer"}


async def test_authenticate_says_why_a_token_is_rejected() -> None:
    auth = build_jwt_auth(jwt_settings())
    for bad, reason in [
        (token(ttl=-300), "token has expired"),
        (token(aud="x"), "token audience (aud) is not accepted"),
        (token(sub=None), "token has no usable 'sub' claim (the user's identity)"),
    ]:
        with pytest.raises(Auth.exceptions.HTTPException) as caught:
            await authenticate(auth, f"Bearer {bad}")
        assert (caught.value.status_code, caught.value.detail) == (401, reason)
        assert caught.value.headers is not None
        assert caught.value.headers["WWW-Authenticate"] == (
            f'Bearer error="invalid_token", error_description="{reason}"'
        )
