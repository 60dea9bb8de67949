"""Built-in JWT auth (`AUTH_JWT_*`, no auth.py) through a real server on both backends:
who gets in, what each user sees, and a JWKS key rotation picked up by the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.jwt_tokens import (
    AUDIENCE,
    ISSUER,
    SECRET,
    JwksServer,
    bearer,
    claims,
    hs256_signed_with,
    hs256_token,
    random_kid,
    rsa_signing_key,
    unsigned_token,
)
from tests.support.paths import FIXTURE_GRAPH_DIR
from tests.support.server import BACKENDS, ServerProcess, serve_backend

JWT_CONFIG = FIXTURE_GRAPH_DIR.parent / "langgraph_jwt.json"


@pytest.fixture(scope="module", params=BACKENDS)
def jwt_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    env = {"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_AUDIENCE": AUDIENCE, "AUTH_JWT_ISSUER": ISSUER}
    yield from serve_backend(request, config=JWT_CONFIG, env=env)


def token(user: str, **extra: object) -> str:
    return hs256_token(claims(user, aud=AUDIENCE, iss=ISSUER, **extra))


def sdk(server: ServerProcess, user: str, **extra: object):
    return get_client(url=server.url, api_key=None, headers=bearer(token(user, **extra)))


async def test_requests_without_a_valid_token_get_401_with_a_reason(
    jwt_server: ServerProcess,
) -> None:
    cases = {
        "no token": {},
        "not a JWT": bearer("nope"),
        "expired": bearer(hs256_token(claims("alice", aud=AUDIENCE, iss=ISSUER, ttl=-120))),
        "wrong audience": bearer(hs256_token(claims("alice", aud="other", iss=ISSUER))),
        "wrong issuer": bearer(hs256_token(claims("alice", aud=AUDIENCE, iss="https://x"))),
        "bad signature": bearer(
            hs256_token(claims("alice", aud=AUDIENCE, iss=ISSUER), secret="x" * 40)
        ),
        "alg none": bearer(unsigned_token(claims("alice", aud=AUDIENCE, iss=ISSUER))),
    }
    async with httpx.AsyncClient(base_url=jwt_server.url) as http:
        assert (await http.get("/ok")).status_code == 200  # public
        for name, headers in cases.items():
            response = await http.post("/threads/search", json={}, headers=headers)
            assert response.status_code == 401, name
            assert isinstance(response.json()["detail"], str) and response.json()["detail"], name
            assert response.headers["www-authenticate"].startswith("Bearer"), name


async def test_each_user_sees_only_their_own_resources_and_the_system_assistants(
    jwt_server: ServerProcess,
) -> None:
    alice, bob = sdk(jwt_server, "alice"), sdk(jwt_server, "bob")
    thread = await alice.threads.create(metadata={"owner": "bob"})  # owner is overwritten
    assert thread["metadata"]["owner"] == "alice"
    assistant = await alice.assistants.create(graph_id="agent", name="alice's")
    assert assistant["metadata"]["owner"] == "alice"
    await alice.store.put_item(("notes",), "k", {"secret": "alice's"})

    async with httpx.AsyncClient(base_url=jwt_server.url, headers=bearer(token("bob"))) as http:
        assert (await http.get(f"/threads/{thread['thread_id']}")).status_code == 404
        assert (await http.get(f"/assistants/{assistant['assistant_id']}")).status_code == 404
        patch = await http.patch(f"/threads/{thread['thread_id']}", json={"metadata": {"a": 1}})
        assert patch.status_code == 404
    thread_ids = {t["thread_id"] for t in await bob.threads.search(limit=100)}
    assert thread["thread_id"] not in thread_ids
    visible = await bob.assistants.search(limit=100)
    assert assistant["assistant_id"] not in {a["assistant_id"] for a in visible}
    assert {"agent", "whoami"} <= {a["graph_id"] for a in visible}  # system assistants
    # Only the server's own assistants are everyone's: a user's claim to be one is dropped.
    posing = await alice.assistants.create(graph_id="agent", metadata={"created_by": "system"})
    assert "created_by" not in posing["metadata"]
    visible = await bob.assistants.search(limit=100)
    assert posing["assistant_id"] not in {a["assistant_id"] for a in visible}
    assert await bob.store.get_item(("notes",), "k") is None
    found = await bob.store.search_items(("notes",))
    assert found["items"] == []
    assert (await alice.store.get_item(("notes",), "k"))["value"] == {"secret": "alice's"}


async def test_the_user_reaches_the_graph(jwt_server: ServerProcess) -> None:
    alice = sdk(jwt_server, "alice", permissions=["threads:write"], email="a@example.com")
    thread = await alice.threads.create()
    values = await alice.runs.wait(thread["thread_id"], "whoami", input={})
    assert values["auth_user_id"] == "alice"
    assert values["identity"] == "alice"
    assert values["permissions"] == ["threads:write"]
    assert values["user"]["email"] == "a@example.com"


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    with JwksServer(rsa_signing_key("first")) as keys:
        yield keys


@pytest.fixture(scope="module")
def jwks_server(jwks: JwksServer) -> Iterator[ServerProcess]:
    server = ServerProcess(config=JWT_CONFIG, env=jwks.server_env())
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_an_rs256_token_from_a_rotated_key_is_accepted_after_a_jwks_refresh(
    jwks: JwksServer, jwks_server: ServerProcess
) -> None:
    first = jwks.keys[0]
    payload = claims("alice", aud=AUDIENCE, iss=ISSUER)
    async with httpx.AsyncClient(base_url=jwks_server.url) as http:
        ok = await http.post("/threads", json={}, headers=bearer(first.sign(payload)))
        assert ok.status_code == 200, ok.text
        # The identity provider rotates: a new key, with a kid the server has not seen.
        rotated = rsa_signing_key(random_kid())
        jwks.publish(first, rotated)
        fetches = jwks.fetches
        # The server refreshes its keys for an unknown kid, at most once per 10 s (so a
        # flood of made-up kids cannot hammer the issuer): the new key works within that.
        deadline = time.monotonic() + 15
        while True:
            response = await http.post("/threads", json={}, headers=bearer(rotated.sign(payload)))
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            assert response.status_code == 401
            await asyncio.sleep(0.5)
        assert response.status_code == 200, response.text
        assert jwks.fetches == fetches + 1
        # HS256 signed with the RSA public key (algorithm confusion) is refused.
        forged = hs256_signed_with(first.public_pem(), payload, first.kid)
        confused = await http.post("/threads", json={}, headers=bearer(forged))
        assert confused.status_code == 401
