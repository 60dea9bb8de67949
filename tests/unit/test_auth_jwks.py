"""Built-in JWT auth with public keys from a JWKS URL (Supabase, Auth0, Clerk, Keycloak),
served here by a real HTTP server on loopback: RS256 and ES256 tokens, algorithm
confusion, key rotation through an unknown `kid`, and a JWKS that is slow to change,
flooded with made-up `kid`s, or down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from robyn_server.auth.jwks import JwksCache, JwksUnavailable, SigningKeyNotFound
from robyn_server.auth.jwt import JwtVerifier, SigningKeysUnavailable, TokenRejected
from tests.support.jwt_tokens import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    SigningKey,
    claims,
    ec_signing_key,
    hs256_signed_with,
    random_kid,
    rsa_signing_key,
)


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return rsa_signing_key("rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return ec_signing_key("ec-1")


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


@pytest.fixture
def jwks(jwks_server: JwksServer, rsa_key: SigningKey, ec_key: SigningKey) -> JwksServer:
    jwks_server.publish(rsa_key, ec_key)
    return jwks_server


def verifier(jwks: JwksServer, **overrides: Any) -> JwtVerifier:
    options: dict[str, Any] = {
        "algorithms": ["RS256", "ES256"],
        "jwks_url": jwks.url,
        "audience": [AUDIENCE],
        "issuer": ISSUER,
        "jwks_min_refresh_seconds": 0.0,
    }
    options.update(overrides)
    return JwtVerifier(**options)


def payload(sub: str = "alice", **extra: Any) -> dict[str, Any]:
    return claims(sub, aud=AUDIENCE, iss=ISSUER, **extra)


async def rejected(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        await verifier.verify(token)
    assert caught.value.status_code == 401
    return caught.value.detail


async def test_rs256_and_es256_tokens_verify(
    jwks: JwksServer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    check = verifier(jwks)
    assert (await check.verify(rsa_key.sign(payload("alice"))))["sub"] == "alice"
    assert (await check.verify(ec_key.sign(payload("bob"))))["sub"] == "bob"


async def test_keys_are_cached(jwks: JwksServer, rsa_key: SigningKey) -> None:
    check = verifier(jwks)
    before = jwks.fetches
    for _ in range(5):
        await check.verify(rsa_key.sign(payload()))
    assert jwks.fetches - before == 1


async def test_a_key_published_without_alg_takes_the_token_algorithm(
    jwks: JwksServer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    bare_rsa = SigningKey("bare-rsa", "RS256", rsa_key.private_key, publish_alg=False)
    bare_ec = SigningKey("bare-ec", "ES256", ec_key.private_key, publish_alg=False)
    jwks.publish(bare_rsa, bare_ec)
    check = verifier(jwks)
    assert await check.verify(bare_rsa.sign(payload()))
    assert await check.verify(bare_ec.sign(payload()))
    # An ES256 token naming the RSA key: the key type cannot do ES256.
    confused = bare_ec.sign(payload(), kid="bare-rsa")
    assert "cannot verify ES256" in await rejected(check, confused)


async def test_a_token_must_use_its_keys_algorithm(
    jwks: JwksServer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    wrong_kid = ec_key.sign(payload(), kid=rsa_key.kid)
    assert await rejected(verifier(jwks), wrong_kid) == (
        "token algorithm does not match its signing key"
    )


async def test_hs256_signed_with_the_public_key_is_rejected(
    jwks: JwksServer, rsa_key: SigningKey
) -> None:
    forged = hs256_signed_with(rsa_key.public_pem(), payload("mallory"), rsa_key.kid)
    before = jwks.fetches
    assert "'HS256' is not accepted" in await rejected(verifier(jwks), forged)
    assert jwks.fetches == before  # refused before any key was looked up
    # Even a verifier told to allow HS256 (the settings refuse that) does not fall for
    # it: a published key is bound to its own algorithm, or is no HMAC key at all.
    careless = verifier(jwks, algorithms=["RS256", "HS256"])
    assert "does not match" in await rejected(careless, forged)
    jwks.publish(SigningKey("bare", "RS256", rsa_key.private_key, publish_alg=False))
    forged_bare = hs256_signed_with(rsa_key.public_pem(), payload("mallory"), "bare")
    assert "cannot verify HS256" in await rejected(careless, forged_bare)


async def test_an_unknown_kid_refreshes_the_keys(jwks: JwksServer, rsa_key: SigningKey) -> None:
    """Key rotation: the issuer publishes a new key and signs with it; the cached key set
    does not know it yet, and one refresh finds it."""
    check = verifier(jwks)
    await check.verify(rsa_key.sign(payload()))
    rotated = rsa_signing_key("rsa-2")
    jwks.publish(rsa_key, rotated)
    before = jwks.fetches
    assert (await check.verify(rotated.sign(payload("carol"))))["sub"] == "carol"
    assert jwks.fetches - before == 1
    # A kid nobody publishes is refused after the refresh.
    stray = rsa_signing_key("rsa-stray")
    assert "not among the issuer's keys" in await rejected(check, stray.sign(payload()))


async def test_a_flood_of_unknown_kids_costs_one_fetch_per_interval(
    jwks: JwksServer, rsa_key: SigningKey
) -> None:
    check = verifier(jwks, jwks_min_refresh_seconds=3600)
    await check.verify(rsa_key.sign(payload()))
    before = jwks.fetches
    tokens = [rsa_key.sign(payload(), kid=random_kid()) for _ in range(50)]
    results = await asyncio.gather(*(check.verify(t) for t in tokens), return_exceptions=True)
    assert all(isinstance(r, TokenRejected) and r.status_code == 401 for r in results)
    assert jwks.fetches == before
    # Valid tokens keep working throughout.
    assert await check.verify(rsa_key.sign(payload()))


async def test_concurrent_unknown_kids_share_one_fetch(
    jwks: JwksServer, rsa_key: SigningKey
) -> None:
    check = verifier(jwks, jwks_min_refresh_seconds=0)
    await check.verify(rsa_key.sign(payload()))
    before = jwks.fetches
    tokens = [rsa_key.sign(payload(), kid=random_kid()) for _ in range(20)]
    await asyncio.gather(*(check.verify(t) for t in tokens), return_exceptions=True)
    assert jwks.fetches - before == 1


async def test_the_refresh_interval_is_measured_from_the_last_fetch(
    jwks: JwksServer, rsa_key: SigningKey
) -> None:
    now = [1000.0]
    cache = JwksCache(jwks.url, cache_seconds=300, min_refresh_seconds=10, clock=lambda: now[0])
    await cache.signing_key(rsa_key.kid, "RS256")
    rotated = rsa_signing_key("rsa-3")
    jwks.publish(rsa_key, rotated)
    now[0] += 5
    with pytest.raises(SigningKeyNotFound):
        await cache.signing_key("rsa-3", "RS256")  # too soon after the first fetch
    now[0] += 6
    assert (await cache.signing_key("rsa-3", "RS256")).key_id == "rsa-3"
    # And the cache expires on its own after cache_seconds.
    before = jwks.fetches
    now[0] += 301
    await cache.signing_key(rsa_key.kid, "RS256")
    assert jwks.fetches - before == 1


async def test_a_jwks_that_cannot_be_fetched_is_a_503(
    jwks: JwksServer, rsa_key: SigningKey
) -> None:
    jwks.fail_with(500)
    check = verifier(jwks)
    with pytest.raises(SigningKeysUnavailable) as caught:
        await check.verify(rsa_key.sign(payload()))
    assert caught.value.status_code == 503
    assert "JWKS" in caught.value.detail
    # Once it is back, the next request fetches again (min refresh interval 0 here).
    jwks.publish(rsa_key)
    assert await check.verify(rsa_key.sign(payload()))


async def test_an_unreachable_jwks_is_a_503(rsa_key: SigningKey) -> None:
    with JwksServer(rsa_key) as gone:
        url = gone.url
    cache = JwksCache(url, timeout_seconds=2)
    with pytest.raises(JwksUnavailable):
        await cache.signing_key(rsa_key.kid, "RS256")


async def test_keys_already_known_outlive_a_jwks_outage(
    jwks: JwksServer, rsa_key: SigningKey
) -> None:
    now = [0.0]
    cache = JwksCache(jwks.url, cache_seconds=60, min_refresh_seconds=10, clock=lambda: now[0])
    await cache.signing_key(rsa_key.kid, "RS256")
    jwks.fail_with(503)
    now[0] += 120  # expired: a refresh is attempted, fails, the old keys stay
    before = jwks.fetches
    assert (await cache.signing_key(rsa_key.kid, "RS256")).key_id == rsa_key.kid
    assert (await cache.signing_key(rsa_key.kid, "RS256")).key_id == rsa_key.kid
    assert jwks.fetches - before == 1  # and the failing server is not retried at once


@pytest.mark.parametrize(
    "document",
    [{"keys": []}, {"nokeys": 1}, [1, 2], {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}],
)
async def test_a_jwks_without_public_keys_is_unusable(
    jwks_server: JwksServer, rsa_key: SigningKey, document: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Symmetric ("oct") keys in a key set are ignored: a published HMAC key would let
    anyone sign."""
    jwks_server.publish(rsa_key)
    cache = JwksCache(jwks_server.url)

    class Answer:
        status_code = 200

        def json(self) -> Any:
            return document

    async def fake_get(self: Any, url: str, **kwargs: Any) -> Answer:
        return Answer()

    monkeypatch.setattr("httpx.AsyncClient.get", fake_get)
    with pytest.raises(JwksUnavailable):
        await cache.signing_key(rsa_key.kid, "RS256")


async def test_a_token_without_kid_needs_a_single_key(
    jwks: JwksServer, rsa_key: SigningKey
) -> None:
    no_kid = rsa_key.sign(payload(), kid=None)
    assert "no key id (kid)" in await rejected(verifier(jwks), no_kid)
    jwks.publish(rsa_key)
    assert await verifier(jwks).verify(no_kid)


@pytest.mark.filterwarnings("ignore:The RSA key is 1024 bits")
async def test_weak_rsa_keys_are_refused(jwks: JwksServer) -> None:
    weak = SigningKey(
        "weak", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=1024)
    )
    jwks.publish(weak)
    assert "too weak" in await rejected(verifier(jwks), weak.sign(payload()))


async def test_claims_are_checked_as_with_a_secret(jwks: JwksServer, ec_key: SigningKey) -> None:
    check = verifier(jwks)
    assert await rejected(check, ec_key.sign(payload(ttl=-300))) == "token has expired"
    wrong_aud = ec_key.sign(claims(aud="other", iss=ISSUER))
    assert await rejected(check, wrong_aud) == "token audience (aud) is not accepted"
    wrong_iss = ec_key.sign(claims(aud=AUDIENCE, iss="https://evil.test/"))
    assert await rejected(check, wrong_iss) == "token issuer (iss) is not accepted"
    header, _, signature = ec_key.sign(payload("alice")).split(".")
    forged = ec_key.sign(payload("mallory")).split(".")[1]
    assert await rejected(check, f"{header}.{forged}.{signature}") == ("token signature is invalid")
