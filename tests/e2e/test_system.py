"""Health, info, docs, CORS and routing, on every backend."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.paths import FIXTURES
from tests.support.server import ServerProcess

EXPOSED = {"content-location", "location", "x-pagination-total", "x-pagination-next"}


def exposed_headers(resp) -> set[str]:
    value = resp.headers.get("access-control-expose-headers", "")
    return {h.strip().lower() for h in value.split(",") if h.strip()}


@pytest.mark.parametrize("path", ["/ok", "/", "/ok?check_db=1"])
async def test_liveness(http, path):
    resp = await http.get(path)
    assert resp.status_code == 200
    assert resp.json() == {"ok": True, "services": {}}


async def test_health_names_persistence(http, backend):
    resp = await http.get("/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["persistence"] == {"memory": "in-memory", "postgres": "postgres"}[backend]
    assert "warning" not in body


async def test_info(http):
    resp = await http.get("/info")
    assert resp.status_code == 200
    body = resp.json()
    assert isinstance(body["version"], str)
    assert body["flags"]["assistants"] is True
    assert isinstance(body["flags"]["crons"], bool)
    assert body["host"]["kind"] == "self-hosted"


async def test_openapi_lists_real_paths(http):
    resp = await http.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, method in [
        ("/assistants", "post"),
        ("/assistants/search", "post"),
        ("/assistants/{assistant_id}", "get"),
        ("/assistants/{assistant_id}", "patch"),
        ("/assistants/{assistant_id}/graph", "get"),
        ("/threads", "post"),
        ("/threads/{thread_id}", "get"),
        ("/threads/{thread_id}", "delete"),
        ("/threads/{thread_id}/copy", "post"),
        ("/threads/prune", "post"),
        ("/store/items", "put"),
        ("/store/namespaces", "post"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing"
    assert not any(":" in p for p in paths)  # Robyn's `:param` syntax must not leak out


async def test_docs_is_html(http):
    resp = await http.get("/docs")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in resp.text


async def test_cors_on_responses(http, tag):
    origin = {"Origin": "http://localhost:3000"}
    resp = await http.post("/threads/search", json={"metadata": {"tag": tag}}, headers=origin)
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] in ("*", "http://localhost:3000")
    assert EXPOSED <= exposed_headers(resp)

    # Errors carry CORS headers too, or browsers hide the error body from the UI.
    missing = await http.get("/threads/00000000-0000-0000-0000-000000000000", headers=origin)
    assert missing.status_code == 404
    assert "access-control-allow-origin" in missing.headers
    assert EXPOSED <= exposed_headers(missing)


async def test_cors_preflight(http):
    resp = await http.options(
        "/threads/search",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-api-key",
        },
    )
    assert resp.status_code == 204
    methods = {m.strip() for m in resp.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PATCH", "PUT", "DELETE"} <= methods
    allowed = resp.headers["access-control-allow-headers"].lower()
    assert allowed == "*" or {"content-type", "x-api-key"} <= {
        h.strip() for h in allowed.split(",")
    }
    assert resp.headers["access-control-allow-origin"] in ("*", "http://localhost:3000")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/no/such/route"),
        ("POST", "/nothing"),
        ("DELETE", "/assistants"),
        ("GET", "/threads/search/extra/segments"),
    ],
)
async def test_unknown_route_is_json_404(http, method, path):
    resp = await http.request(method, path)
    assert resp.status_code in (404, 405)
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["detail"]


async def test_api_key_header_is_ignored_without_auth(http):
    resp = await http.post("/assistants/count", json={}, headers={"x-api-key": "anything"})
    assert resp.status_code == 200
    assert resp.json() >= 1


@pytest.fixture(scope="module")
def cors_server() -> Iterator[ServerProcess]:
    proc = ServerProcess(env={"CORS_ALLOW_ORIGINS": "https://ui.example, https://studio.example"})
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


async def test_cors_with_an_origin_list(cors_server):
    async with httpx.AsyncClient(base_url=cors_server.url) as http:
        for origin in ("https://ui.example", "https://studio.example"):
            resp = await http.post("/assistants/count", json={}, headers={"Origin": origin})
            assert resp.status_code == 200
            assert resp.headers["access-control-allow-origin"] == origin
            assert "origin" in resp.headers.get("vary", "").lower()
            assert EXPOSED <= exposed_headers(resp)

            preflight = await http.options(
                "/threads",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == origin

        other = await http.post(
            "/assistants/count", json={}, headers={"Origin": "https://evil.example"}
        )
        assert other.status_code == 200
        assert "access-control-allow-origin" not in other.headers
        refused = await http.options(
            "/threads",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in refused.headers


async def test_cors_origins_from_langgraph_json():
    config = FIXTURES / "langgraph_cors.json"
    with ServerProcess(config=config) as proc:
        async with httpx.AsyncClient(base_url=proc.url) as http:
            allowed = await http.get("/info", headers={"Origin": "https://ui.example"})
            assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
            other = await http.get("/info", headers={"Origin": "https://studio.example"})
            assert "access-control-allow-origin" not in other.headers
    # The environment wins over the file.
    env = {"CORS_ALLOW_ORIGINS": "https://studio.example"}
    with ServerProcess(config=config, env=env) as proc:
        async with httpx.AsyncClient(base_url=proc.url) as http:
            resp = await http.get("/info", headers={"Origin": "https://studio.example"})
            assert resp.headers["access-control-allow-origin"] == "https://studio.example"


async def test_openapi_response_schemas_match_real_responses(client, http, tag):
    """The documented response models accept what the server really sends."""
    from robyn_server.schemas import responses as shapes

    spec = (await http.get("/openapi.json")).json()
    thread_get = spec["paths"]["/threads/{thread_id}"]["get"]["responses"]["200"]
    assert thread_get["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thread"
    }
    assert "Assistant" in spec["components"]["schemas"]

    assistant = await client.assistants.create(graph_id="agent", metadata={"tag": tag})
    shapes.Assistant.model_validate(assistant)
    for version in await client.assistants.get_versions(assistant["assistant_id"]):
        shapes.AssistantVersion.model_validate(version)
    shapes.GraphSchemas.model_validate(
        await client.assistants.get_schemas(assistant["assistant_id"])
    )
    thread = await client.threads.create(metadata={"tag": tag}, ttl=60)
    shapes.Thread.model_validate(thread)
    shapes.Thread.model_validate(await client.threads.get(thread["thread_id"], include=["ttl"]))
    await client.store.put_item([tag], "k", {"v": 1})
    shapes.StoreItem.model_validate(await client.store.get_item([tag], "k"))
    shapes.StoreSearchResult.model_validate(await client.store.search_items([tag]))
    shapes.StoreNamespacesResult.model_validate(await client.store.list_namespaces(prefix=[tag]))
    shapes.Health.model_validate((await http.get("/health")).json())
    shapes.Info.model_validate((await http.get("/info")).json())
