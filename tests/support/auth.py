"""Custom auth in end-to-end tests: the server of tests/fixtures/langgraph_auth.json (auth
module tests/fixtures/auth_docs.py), its users, and what user A owns there.

`AliceWorld` is one of each resource Alice can own, made through the API as she would
make them; the isolation tests then aim Bob at every one of them.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from langgraph_sdk import get_client

from tests.support.paths import FIXTURES
from tests.support.runs import run_reaches

AUTH_CONFIG = FIXTURES / "langgraph_auth.json"
ALICE = "token-alice"
BOB = "token-bob"
JSON_ACCEPT = {"accept": "application/json"}
MCP_ACCEPT = {"accept": "application/json, text/event-stream"}


# Served to anyone when auth is on: liveness, the server's description, A2A agent cards.
PUBLIC = {
    ("GET", "/ok"),
    ("GET", "/"),
    ("GET", "/health"),
    ("GET", "/info"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/a2a/{assistant_id}"),
    ("GET", "/a2a/{assistant_id}/.well-known/agent-card.json"),
    ("GET", "/a2a/{assistant_id}/.well-known/agent.json"),
    ("GET", "/.well-known/agent-card.json"),
}


async def route_table(server: Any) -> set[tuple[str, str]]:
    """Every (method, path) the server routes, from its own /openapi.json (public)."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        document = (await http.get("/openapi.json")).json()
    return {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sdk_as(url: str, token: str) -> Any:
    """The real SDK client, sending `token` as a bearer token."""
    return get_client(url=url, api_key=None, headers=bearer(token))


def http_as(url: str, token: str | None) -> httpx.AsyncClient:
    headers = bearer(token) if token else {}
    return httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0)


def a2a_rpc(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


def a2a_message(text: str, **fields: Any) -> dict[str, Any]:
    message = {
        "role": "user",
        "messageId": str(uuid.uuid4()),
        "parts": [{"kind": "text", "text": text}],
    }
    return {"message": {**message, **fields}, "configuration": {"blocking": True}}


def mcp_rpc(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}


@dataclass
class AliceWorld:
    """What Alice owns. `secret` is in all of it, so an answer to Bob that holds it leaks."""

    secret: str
    assistant_id: str
    assistant_name: str
    thread_id: str  # with a finished run, a checkpoint and a cron
    run_id: str
    checkpoint_id: str
    busy_thread_id: str  # with a run that is still executing
    busy_run_id: str
    cron_id: str
    store_namespace: list[str]  # as stored (the handler put "alice" first)
    store_key: str
    task_id: str  # an A2A task, on the `agent` graph's system assistant
    context_id: str

    def path_values(self) -> dict[str, str]:
        return {
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "cron_id": self.cron_id,
            "checkpoint_id": self.checkpoint_id,
            "namespace": "sub",
        }

    def fill(self, path: str) -> str:
        for name, value in self.path_values().items():
            path = path.replace("{" + name + "}", value)
        return path


async def build_world(url: str) -> AliceWorld:
    secret = f"secret-{uuid.uuid4().hex[:10]}"
    alice = sdk_as(url, ALICE)
    assistant = await alice.assistants.create(
        graph_id="agent",
        name=f"alice-{secret}",
        metadata={"tag": secret},
        config={"configurable": {"note": secret}},
    )
    thread = await alice.threads.create(metadata={"tag": secret})
    thread_id = thread["thread_id"]
    message = {"role": "user", "content": secret}
    await alice.runs.wait(thread_id, assistant["assistant_id"], input={"messages": [message]})
    run_id = (await alice.runs.list(thread_id))[0]["run_id"]
    state = await alice.threads.get_state(thread_id)
    busy = await alice.threads.create(metadata={"tag": secret})
    busy_run = await alice.runs.create(
        busy["thread_id"], "slow", input={"messages": []}, config={"configurable": {"delay": 600}}
    )
    await run_reaches(alice, busy["thread_id"], busy_run["run_id"], ("running",))
    cron = await alice.crons.create_for_thread(
        thread_id, assistant["assistant_id"], schedule="0 0 1 1 *", metadata={"tag": secret}
    )
    await alice.store.put_item(["notes"], "k", {"secret": secret})
    async with http_as(url, ALICE) as http:
        # On the graph's system assistant, which Bob may address too.
        answer = await http.post(
            "/a2a/agent", json=a2a_rpc("message/send", a2a_message(secret)), headers=JSON_ACCEPT
        )
    task = answer.json()["result"]
    return AliceWorld(
        secret=secret,
        assistant_id=assistant["assistant_id"],
        assistant_name=assistant["name"],
        thread_id=thread_id,
        run_id=run_id,
        checkpoint_id=state["checkpoint"]["checkpoint_id"],
        busy_thread_id=busy["thread_id"],
        busy_run_id=busy_run["run_id"],
        cron_id=cron["cron_id"],
        store_namespace=["alice", "notes"],
        store_key="k",
        task_id=task["id"],
        context_id=task["contextId"],
    )


async def intact(url: str, world: AliceWorld) -> list[str]:
    """What no longer holds of Alice's world, read as Alice ([] when all is as she left it)."""
    alice = sdk_as(url, ALICE)
    problems = []

    async def check(what: str, read: Any, holds: Any) -> None:
        try:
            found = await read()
        except Exception as exc:
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
            return
        if not holds(found):
            problems.append(f"{what}: {str(found)[:300]}")

    own_keys = {"tag", "owner", "graph_id", "assistant_id"}
    await check(
        "her assistant changed",
        lambda: alice.assistants.get(world.assistant_id),
        lambda a: (a["name"], a["version"]) == (world.assistant_name, 1),
    )
    await check(
        "her thread changed",
        lambda: alice.threads.get(world.thread_id),
        lambda t: t["metadata"].get("tag") == world.secret and set(t["metadata"]) <= own_keys,
    )
    await check(
        "her first run is gone",
        lambda: alice.runs.list(world.thread_id),
        lambda runs: world.run_id in [r["run_id"] for r in runs],
    )
    await check(
        "her running run stopped",
        lambda: alice.runs.get(world.busy_thread_id, world.busy_run_id),
        lambda run: run["status"] == "running",
    )
    await check(
        "her A2A context changed",
        lambda: alice.runs.list(world.context_id),
        lambda runs: [r["run_id"] for r in runs] == [world.task_id],
    )
    await check(
        "her cron changed",
        lambda: alice.crons.search(thread_id=world.thread_id),
        lambda crons: [(c["cron_id"], c["enabled"]) for c in crons] == [(world.cron_id, True)],
    )
    await check(
        "her store item changed",
        lambda: alice.store.get_item(["notes"], world.store_key),
        lambda item: item is not None and item["value"] == {"secret": world.secret},
    )
    return problems


async def tear_down(url: str, world: AliceWorld) -> None:
    """Stop her long run (unless a failed test already did)."""
    alice = sdk_as(url, ALICE)
    with contextlib.suppress(httpx.HTTPStatusError):
        await alice.runs.cancel(world.busy_thread_id, world.busy_run_id)
