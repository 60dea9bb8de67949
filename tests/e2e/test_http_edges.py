"""HTTP behaviour below the API: methods a path does not take, and content types the
server does not parse (as on the reference server, bodies are JSON whatever the type)."""

from __future__ import annotations

import socket
import uuid

import httpx
import pytest

from tests.support.server import ServerProcess

MISSING = "00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/threads", "POST"),
        ("TRACE", "/threads", "POST"),
        ("GET", "/threads", "POST"),
        ("PUT", f"/threads/{MISSING}", "DELETE, GET, PATCH"),
        ("POST", f"/threads/{MISSING}/runs/{MISSING}", "DELETE, GET"),
        ("PATCH", "/store/items", "DELETE, GET, PUT"),
        ("DELETE", "/ok", "GET, HEAD"),
        ("TRACE", "/", "GET, HEAD"),
        ("POST", "/", "GET, HEAD"),
        # A literal segment is its own resource, not an id (as Robyn routes it).
        ("PUT", "/assistants/count", "POST"),
        # ... even when another route of the method would take it as an id.
        ("GET", f"/threads/{MISSING}/runs/stream", "POST"),
        ("GET", "/threads/search", "POST"),
        ("DELETE", "/assistants/count", "POST"),
        ("GET", f"/threads/{MISSING}/state/checkpoint", "POST"),
    ],
)
async def test_a_known_path_with_another_method_is_405_with_allow(http, method, path, allow):
    response = await http.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {"detail": "Method Not Allowed"}


async def test_a_method_robyn_cannot_route_is_still_405(http):
    # QUERY never reaches Python in Robyn 0.88: its own 405 has no Allow header
    # (docs/robyn-payload-panic.md). At least the status is right.
    response = await http.request("QUERY", "/threads")
    assert response.status_code == 405


@pytest.mark.parametrize("method", ["PUT", "TRACE", "DELETE"])
async def test_an_unknown_path_is_404_whatever_the_method(http, method):
    response = await http.request(method, "/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    assert "allow" not in response.headers


async def test_a_multipart_type_without_boundary_is_ignored_and_the_connection_lives(
    server: ServerProcess,
):
    # One keep-alive connection for all requests: the next request on it must work.
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=server.url, timeout=10, limits=limits) as http:
        bare = {"content-type": "multipart/form-data"}
        response = await http.delete(f"/threads/{MISSING}", headers=bare)
        assert response.status_code == 404
        assert "not found" in response.json()["detail"]
        assert (await http.get("/ok")).status_code == 200

        tag = uuid.uuid4().hex
        body = f'{{"metadata": {{"tag": "{tag}"}}}}'.encode()
        created = await http.post("/threads", headers=bare, content=body)
        assert created.status_code == 200
        assert created.json()["metadata"] == {"tag": tag}

        with_boundary = {"content-type": "multipart/form-data; boundary=x"}
        found = await http.post("/threads/search", headers=with_boundary, content=body)
        assert found.status_code == 200
        assert [t["thread_id"] for t in found.json()] == [created.json()["thread_id"]]

        garbage = await http.post("/threads", headers=bare, content=b"--x\r\nnot json")
        assert garbage.status_code == 422
        assert (await http.get("/ok")).status_code == 200


def test_a_body_that_is_not_json_is_422_on_a_raw_keep_alive_connection(server: ServerProcess):
    request = (
        b"POST /threads HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data\r\n"
        b"Content-Length: 5\r\n\r\nhello"
        b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while received.count(b"HTTP/1.1 ") < 2 or not received.endswith(b"}"):
            chunk = sock.recv(4096)
            assert chunk, f"connection closed early: {received!r}"
            received += chunk
    first, second = received.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"422")
    assert b'"detail"' in first
    assert second.startswith(b"200")
