"""Custom auth as LangGraph's docs describe it, through a real server on both backends:
who may call (401), what is refused (403), what the handlers are given, and what reaches
the graphs (tests/fixtures/auth_docs.py is the auth module)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.support.auth import (
    ALICE,
    BOB,
    MCP_ACCEPT,
    PUBLIC,
    bearer,
    http_as,
    mcp_rpc,
    route_table,
    sdk_as,
)
from tests.support.paths import FIXTURE_GRAPH_DIR
from tests.support.runs import eventually
from tests.support.server import ServerProcess

PATH_VALUES = {
    "assistant_id": "agent",  # a graph id: the public agent cards exist for it
    "thread_id": str(uuid.uuid4()),
    "run_id": str(uuid.uuid4()),
    "cron_id": str(uuid.uuid4()),
    "checkpoint_id": str(uuid.uuid4()),
    "namespace": "sub",
}


def filled(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path


async def test_every_route_but_the_public_ones_needs_credentials(
    auth_server: ServerProcess,
) -> None:
    failures = []
    async with (
        http_as(auth_server.url, None) as anonymous,
        http_as(auth_server.url, "not-a-token") as forger,
    ):
        for method, path in sorted(await route_table(auth_server)):
            url = filled(path) + ("?assistant_id=agent" if "well-known" in path else "")
            for client in (anonymous, forger):
                response = await client.request(method, url)
                if (method, path) in PUBLIC:
                    if response.status_code != 200:
                        failures.append(f"{method} {path} (public): {response.status_code}")
                elif response.status_code != 401 or not isinstance(
                    response.json().get("detail"), str
                ):
                    failures.append(f"{method} {path}: {response.status_code} {response.text}")
    assert failures == [], "\n".join(failures)


async def test_a_refused_action_is_a_403_with_a_detail(auth_server: ServerProcess) -> None:
    alice = sdk_as(auth_server.url, ALICE)
    assistant = await alice.assistants.create(graph_id="agent")
    async with http_as(auth_server.url, ALICE) as http:
        response = await http.delete(f"/assistants/{assistant['assistant_id']}")
    assert (response.status_code, response.json()) == (403, {"detail": "Forbidden"})
    assert (await alice.assistants.get(assistant["assistant_id"]))["name"] == "Untitled"


async def test_what_authenticate_raises_or_returns_decides_the_401(
    auth_server: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        crash = await http.post("/threads/search", headers=bearer("token-crash"))
        expired = await http.post("/threads/search", headers=bearer("token-teapot"))
        nobody = await http.post("/threads/search", headers=bearer("token-nobody"))
    # Any exception is a bare 401: nothing of it reaches the client.
    assert (crash.status_code, crash.json()) == (401, {"detail": "Unauthorized"})
    assert "secret-stack-detail" not in crash.text
    # An HTTPException is the handler's own answer, headers included.
    assert (expired.status_code, expired.json()) == (401, {"detail": "Token expired"})
    assert expired.headers["www-authenticate"] == "Bearer"
    # Something that is not a user is no user.
    assert (nobody.status_code, nobody.json()) == (401, {"detail": "Unauthorized"})


async def test_authenticate_is_given_its_parameters_by_name(auth_server: ServerProcess) -> None:
    thread_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        listed = await http.get(
            f"/threads/{thread_id}/runs",
            params={"limit": "3", "status": "success"},
            headers={**bearer("token-inspect"), "X-Custom": "yes"},
        )
        created = await http.post(
            "/threads", json={"metadata": {"a": 1}}, headers=bearer("token-inspect")
        )
    assert listed.status_code == 418
    assert json.loads(listed.json()["detail"]) == {
        "authorization": "Bearer token-inspect",
        "x-custom": "yes",
        "path": f"/threads/{thread_id}/runs",
        "method": "GET",
        "path_params": {"thread_id": thread_id},
        "query_params": {"limit": "3", "status": "success"},
        "body": {},
        "scopes": [],
        "request": ["GET", f"/threads/{thread_id}/runs", "yes"],
    }
    seen = json.loads(created.json()["detail"])
    assert (seen["method"], seen["path"], seen["body"]) == (
        "POST",
        "/threads",
        {"metadata": {"a": 1}},
    )


WHOAMI_BODY = {
    "assistant_id": "whoami",
    "input": {},
    # A client cannot claim to be someone: these never reach the graph.
    "config": {
        "configurable": {
            "langgraph_auth_user_id": "mallory",
            "langgraph_auth_user": {"identity": "mallory"},
            "langgraph_auth_permissions": ["admin"],
            "user_id": "mallory",
        }
    },
}


@pytest.mark.parametrize("stateful", [True, False], ids=["stateful", "stateless"])
async def test_the_user_reaches_the_graph(auth_server: ServerProcess, stateful: bool) -> None:
    alice = sdk_as(auth_server.url, ALICE)
    thread_id = (await alice.threads.create())["thread_id"] if stateful else None
    body = {k: v for k, v in WHOAMI_BODY.items() if k != "assistant_id"}
    seen = await alice.runs.wait(thread_id, "whoami", **body)
    assert seen["user"] == {
        "identity": "alice",
        "display_name": "Alice",
        "is_authenticated": True,
        "permissions": ["threads:write"],
        # What else the handler returned rides along, secrets too: for the graph only.
        "org": "acme",
        "github_token": "gh-secret",
    }
    assert seen["identity"] == "alice" and seen["is_base_user"] is True
    assert (seen["auth_user_id"], seen["user_id"]) == ("alice", "alice")
    assert seen["permissions"] == ["threads:write"]
    if stateful:
        [run] = await alice.runs.list(thread_id)
        shown = run["kwargs"]["config"]["configurable"]["langgraph_auth_user"]
        assert (shown["identity"], shown["github_token"]) == ("alice", "***")


@pytest.mark.parametrize(
    ("token", "user"),
    [
        (
            "token-plain",  # an identity string
            {
                "identity": "plain-user",
                "display_name": "plain-user",
                "is_authenticated": True,
                "permissions": [],
            },
        ),
        (
            "token-object",  # an object with an identity
            {
                "identity": "olga",
                "display_name": "Olga",
                "is_authenticated": True,
                "permissions": ["admin"],
            },
        ),
    ],
)
async def test_every_form_of_user_authenticate_may_return(
    auth_server: ServerProcess, token: str, user: dict[str, Any]
) -> None:
    seen = await sdk_as(auth_server.url, token).runs.wait(None, "whoami", input={})
    assert seen["user"] == user and seen["identity"] == user["identity"]


async def test_the_handler_stamps_the_owner_on_what_is_created(
    auth_server: ServerProcess,
) -> None:
    alice = sdk_as(auth_server.url, ALICE)
    claim = {"owner": "bob", "topic": "x"}  # the handler overwrites a claimed owner
    thread = await alice.threads.create(metadata=claim)
    assistant = await alice.assistants.create(graph_id="agent", metadata=claim)
    cron = await alice.crons.create("agent", schedule="0 0 1 1 *", metadata=claim)
    run = await alice.runs.create(thread["thread_id"], "agent", input={}, metadata=claim)
    copied = await alice.threads.copy(thread["thread_id"])
    for created in (thread, assistant, cron, run, copied):
        assert created["metadata"]["owner"] == "alice", created
    assert thread["metadata"]["topic"] == "x"
    assert cron["user_id"] == "alice"
    # Bob's copy would be his; he cannot even read hers to copy it.
    bob = sdk_as(auth_server.url, BOB)
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await bob.threads.copy(thread["thread_id"])
    assert refused.value.response.status_code == 409
    await alice.crons.delete(cron["cron_id"])


async def test_a_cron_runs_as_the_user_who_created_it(auth_server: ServerProcess) -> None:
    alice, bob = sdk_as(auth_server.url, ALICE), sdk_as(auth_server.url, BOB)
    cron = await alice.crons.create(
        "whoami", schedule="* * * * * *", input={}, on_run_completed="keep"
    )
    try:

        async def first_thread() -> Any:
            found = await alice.threads.search(metadata={"cron_id": cron["cron_id"]})
            return [t for t in found if t["status"] == "idle" and t["values"]]

        thread = (await eventually(first_thread, within=20))[0]
    finally:
        await alice.crons.delete(cron["cron_id"])
    assert thread["metadata"]["owner"] == "alice"
    assert thread["values"]["identity"] == "alice"
    assert thread["values"]["user"]["org"] == "acme"
    assert await bob.threads.search(metadata={"cron_id": cron["cron_id"]}) == []


async def test_mcp_tools_run_as_the_caller(auth_server: ServerProcess) -> None:
    async with http_as(auth_server.url, ALICE) as alice:
        listed = await alice.post("/mcp", json=mcp_rpc("tools/list"), headers=MCP_ACCEPT)
        params = {"name": "whoami", "arguments": {}}
        called = await alice.post("/mcp", json=mcp_rpc("tools/call", params), headers=MCP_ACCEPT)
    names = [tool["name"] for tool in listed.json()["result"]["tools"]]
    assert {"agent", "slow", "whoami"} <= set(names)  # the graphs: anyone may run them
    values = json.loads(called.json()["result"]["content"][0]["text"])
    assert values["identity"] == "alice"


async def test_the_api_document_shows_the_security_schemes(auth_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        document = (await http.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes == {"BearerAuth": {"type": "http", "scheme": "bearer"}}
    assert document["security"] == [{"BearerAuth": []}]
    assert document["paths"]["/info"]["get"]["security"] == []
    responses = document["paths"]["/threads/{thread_id}"]["get"]["responses"]
    assert {"401", "403"} <= set(responses)
    assert "401" not in document["paths"]["/health"]["get"]["responses"]


@pytest.mark.parametrize(
    ("auth_py", "message"),
    [
        ("auth = 42\n", "auth.path (./auth.py:auth) is a int, not a langgraph_sdk.Auth"),
        ("other = 1\n", "Variable 'auth' not found"),
        ("from langgraph_sdk import Auth\nauth = Auth()\n", "no @auth.authenticate handler"),
    ],
)
def test_a_broken_auth_module_stops_the_server(tmp_path, auth_py: str, message: str) -> None:
    (tmp_path / "auth.py").write_text(auth_py)
    config = tmp_path / "langgraph.json"
    graph = FIXTURE_GRAPH_DIR / "agent.py"
    config.write_text(
        json.dumps({"graphs": {"agent": f"{graph}:graph"}, "auth": {"path": "./auth.py:auth"}})
    )
    server = ServerProcess(config=config)
    assert server.run_to_exit() == 2
    assert message in server.output()
