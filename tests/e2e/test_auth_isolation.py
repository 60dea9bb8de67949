"""Every endpoint, two users: Bob never reaches what Alice owns, on either backend.

The endpoints come from the server's own route table (its /openapi.json): a route must
be public on purpose (`PUBLIC`) or have an isolation case here (`PROBES`), so a new
endpoint without a check fails `test_every_route_is_public_or_has_an_isolation_case`.
Each case aims Bob at Alice's resources (by id, by search and count, through state and
history, the store, crons, A2A and MCP); it must be refused or see nothing, no answer
may carry her secret, and after every write attempt her world must be as she left it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from robyn_server.services.mcp import tool_name
from tests.support.auth import (
    BOB,
    JSON_ACCEPT,
    MCP_ACCEPT,
    PUBLIC,
    AliceWorld,
    a2a_message,
    a2a_rpc,
    http_as,
    intact,
    mcp_rpc,
    route_table,
)
from tests.support.server import ServerProcess

Check = Callable[[httpx.AsyncClient, AliceWorld], Awaitable[str | None]]


@dataclass(frozen=True)
class Refused:
    """Bob's request on Alice's resource gets one of `statuses` (a body, when given, may
    be a function of her world)."""

    statuses: tuple[int, ...]
    body: Any = None
    answer: Any = None  # the exact JSON answer, when it must be one

    async def run(
        self, bob: httpx.AsyncClient, world: AliceWorld, method: str, path: str
    ) -> str | None:
        body = self.body(world) if callable(self.body) else self.body
        response = await bob.request(method, world.fill(path), json=body)
        if response.status_code not in self.statuses:
            return f"answered {response.status_code}: {response.text[:300]}"
        if self.answer is not None and response.json() != self.answer:
            return f"answered {response.text[:300]}"
        return None if world.secret not in response.text else f"leaked: {response.text[:300]}"


@dataclass(frozen=True)
class Custom:
    check: Check

    async def run(
        self, bob: httpx.AsyncClient, world: AliceWorld, method: str, path: str
    ) -> str | None:
        return await self.check(bob, world)


NOT_FOUND = Refused((404,))
SCHEDULE = "0 0 1 1 *"


def her_run(world: AliceWorld) -> dict[str, Any]:
    return {"assistant_id": world.assistant_id, "input": {"messages": []}}


ON_HER_THREAD = Refused((404,), {"assistant_id": "agent", "input": {"messages": []}})
WITH_HER_ASSISTANT = Refused((404,), her_run)


async def _json(bob: httpx.AsyncClient, method: str, path: str, body: Any = None) -> Any:
    response = await bob.request(method, path, json=body)
    assert response.status_code == 200, f"{method} {path}: {response.text}"
    return response.json()


def _sees(found: Any, world: AliceWorld, *ids: str) -> str | None:
    text = str(found)
    if world.secret in text or any(i in text for i in ids):
        return f"sees her data: {text[:300]}"
    return None


async def search_assistants(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    by_tag = await _json(bob, "POST", "/assistants/search", {"metadata": {"tag": world.secret}})
    everything = await _json(bob, "POST", "/assistants/search", {"limit": 1000})
    return _sees([by_tag, everything], world, world.assistant_id)


async def count_assistants(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    found = await _json(bob, "POST", "/assistants/count", {"metadata": {"tag": world.secret}})
    return None if found == 0 else f"counts {found}"


async def search_threads(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    ids = [world.thread_id, world.busy_thread_id, world.context_id]
    by_id = await _json(bob, "POST", "/threads/search", {"ids": ids})
    by_tag = await _json(bob, "POST", "/threads/search", {"metadata": {"tag": world.secret}})
    everything = await _json(bob, "POST", "/threads/search", {"limit": 1000})
    return _sees([by_id, by_tag, everything], world, *ids)


async def count_threads(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    found = await _json(bob, "POST", "/threads/count", {"metadata": {"tag": world.secret}})
    return None if found == 0 else f"counts {found}"


async def cancel_her_running_run(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    path = f"/threads/{world.busy_thread_id}/runs/{world.busy_run_id}/cancel"
    for query in ("", "?wait=true&action=rollback"):
        response = await bob.post(path + query)
        if response.status_code != 404:
            return f"cancel{query} answered {response.status_code}: {response.text[:200]}"
    return None


async def cancel_many(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    by_id = {"thread_id": world.busy_thread_id, "run_ids": [world.busy_run_id]}
    for body in (by_id, {"status": "all"}, {"status": "running"}):
        response = await bob.post("/runs/cancel", json=body)
        if response.status_code != 404:
            return f"{body} answered {response.status_code}: {response.text[:200]}"
    return None


async def join_her_run(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    found = await _json(bob, "GET", f"/threads/{world.thread_id}/runs/{world.run_id}/join")
    if "__error__" not in found:
        return f"joined: {str(found)[:300]}"
    return _sees(found, world)


async def join_her_stream(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    response = await bob.get(f"/threads/{world.busy_thread_id}/runs/{world.busy_run_id}/stream")
    if response.status_code != 200 or "Run not found" not in response.text:
        return f"answered {response.status_code}: {response.text[:300]}"
    return _sees(response.text, world)


async def search_crons(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    mine = await _json(bob, "POST", "/runs/crons/search", {"thread_id": world.thread_id})
    everything = await _json(bob, "POST", "/runs/crons/search", {"limit": 1000})
    return _sees([mine, everything], world, world.cron_id)


async def count_crons(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    found = await _json(bob, "POST", "/runs/crons/count", {"thread_id": world.thread_id})
    return None if found == 0 else f"counts {found}"


async def store_put(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    body = {"namespace": world.store_namespace, "key": world.store_key, "value": {"x": "bob"}}
    response = await bob.put("/store/items", json=body)
    # Accepted, in Bob's own namespace (the handler puts "bob" first): hers is intact.
    return None if response.status_code == 204 else f"answered {response.status_code}"


async def store_get(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    params = {"namespace": ".".join(world.store_namespace), "key": world.store_key}
    response = await bob.get("/store/items", params=params)
    return None if response.json() is None else f"got {response.text[:300]}"


async def store_delete(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    body = {"namespace": world.store_namespace, "key": world.store_key}
    response = await bob.request("DELETE", "/store/items", json=body)
    return None if response.status_code == 204 else f"answered {response.status_code}"


async def store_search(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    hers = await _json(bob, "POST", "/store/items/search", {"namespace_prefix": ["alice"]})
    everything = await _json(bob, "POST", "/store/items/search", {"namespace_prefix": []})
    return _sees([hers, everything], world)


async def store_namespaces(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    found = await _json(bob, "POST", "/store/namespaces", {})
    others = [ns for ns in found["namespaces"] if ns[0] != "bob"]
    return f"sees namespaces {others}" if others else None


async def a2a(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    hers = await bob.post(
        f"/a2a/{world.assistant_id}",
        json=a2a_rpc("message/send", a2a_message("hi")),
        headers=JSON_ACCEPT,
    )
    if hers.status_code != 404:
        return f"her assistant answered {hers.status_code}: {hers.text[:200]}"
    calls = [
        a2a_rpc("tasks/get", {"id": world.task_id}),
        a2a_rpc("tasks/cancel", {"id": world.task_id}),
        a2a_rpc("message/send", a2a_message("hi", taskId=world.task_id)),
        a2a_rpc("message/send", a2a_message("hi", contextId=world.context_id)),
    ]
    for call in calls:
        answer = await _json(bob, "POST", "/a2a/agent", call)
        if "error" not in answer or world.secret in str(answer):
            return f"{call['method']} answered {str(answer)[:300]}"
    listed = await bob.post(
        "/a2a/agent",
        json=a2a_rpc("ListTasks", {"contextId": world.context_id}),
        headers={**JSON_ACCEPT, "a2a-version": "1.0"},
    )
    return _sees(listed.json().get("result", {}).get("tasks"), world, world.task_id)


async def mcp(bob: httpx.AsyncClient, world: AliceWorld) -> str | None:
    listed = await bob.post("/mcp", json=mcp_rpc("tools/list"), headers=MCP_ACCEPT)
    if problem := _sees(listed.json(), world, tool_name(world.assistant_name)):
        return problem
    params = {"name": tool_name(world.assistant_name), "arguments": {}}
    called = await bob.post("/mcp", json=mcp_rpc("tools/call", params), headers=MCP_ACCEPT)
    if "Unknown tool" not in called.text:
        return f"tools/call answered {called.text[:300]}"
    return None


PROBES: dict[tuple[str, str], Refused | Custom] = {
    # assistants
    ("POST", "/assistants"): Refused(
        (409,),
        lambda w: {"assistant_id": w.assistant_id, "graph_id": "agent", "if_exists": "do_nothing"},
    ),
    ("POST", "/assistants/search"): Custom(search_assistants),
    ("POST", "/assistants/count"): Custom(count_assistants),
    ("GET", "/assistants/{assistant_id}"): NOT_FOUND,
    ("PATCH", "/assistants/{assistant_id}"): Refused((404,), {"name": "hijacked"}),
    # Nobody may delete an assistant (the fixture's denied action): refused before lookup.
    ("DELETE", "/assistants/{assistant_id}"): Refused((403,)),
    ("POST", "/assistants/{assistant_id}/versions"): Refused((404,), {}),
    ("POST", "/assistants/{assistant_id}/latest"): Refused((404,), {"version": 1}),
    ("GET", "/assistants/{assistant_id}/graph"): NOT_FOUND,
    ("GET", "/assistants/{assistant_id}/schemas"): NOT_FOUND,
    ("GET", "/assistants/{assistant_id}/subgraphs"): NOT_FOUND,
    ("GET", "/assistants/{assistant_id}/subgraphs/{namespace}"): NOT_FOUND,
    # threads, their state and history
    ("POST", "/threads"): Refused(
        (409,), lambda w: {"thread_id": w.thread_id, "if_exists": "do_nothing"}
    ),
    ("POST", "/threads/search"): Custom(search_threads),
    ("POST", "/threads/count"): Custom(count_threads),
    ("POST", "/threads/prune"): Refused(
        (200,),
        lambda w: {"thread_ids": [w.thread_id, w.busy_thread_id, w.context_id]},
        answer={"pruned_count": 0},
    ),
    ("GET", "/threads/{thread_id}"): NOT_FOUND,
    ("PATCH", "/threads/{thread_id}"): Refused((404,), {"metadata": {"tag": "hijacked"}}),
    ("DELETE", "/threads/{thread_id}"): NOT_FOUND,
    ("POST", "/threads/{thread_id}/copy"): Refused((409,)),
    ("GET", "/threads/{thread_id}/state"): NOT_FOUND,
    ("POST", "/threads/{thread_id}/state"): Refused((404,), {"values": {"messages": []}}),
    ("POST", "/threads/{thread_id}/state/checkpoint"): Refused(
        (404,), lambda w: {"checkpoint": {"checkpoint_id": w.checkpoint_id}}
    ),
    ("GET", "/threads/{thread_id}/state/{checkpoint_id}"): NOT_FOUND,
    ("POST", "/threads/{thread_id}/history"): Refused((404,), {}),
    ("GET", "/threads/{thread_id}/history"): NOT_FOUND,
    ("GET", "/threads/{thread_id}/stream"): NOT_FOUND,
    # runs
    ("POST", "/threads/{thread_id}/runs"): ON_HER_THREAD,
    ("POST", "/threads/{thread_id}/runs/stream"): ON_HER_THREAD,
    ("POST", "/threads/{thread_id}/runs/wait"): ON_HER_THREAD,
    ("POST", "/runs"): WITH_HER_ASSISTANT,
    ("POST", "/runs/stream"): WITH_HER_ASSISTANT,
    ("POST", "/runs/wait"): WITH_HER_ASSISTANT,
    ("POST", "/runs/batch"): Refused((404,), lambda w: [her_run(w)]),
    ("GET", "/threads/{thread_id}/runs"): NOT_FOUND,
    ("GET", "/threads/{thread_id}/runs/{run_id}"): NOT_FOUND,
    ("DELETE", "/threads/{thread_id}/runs/{run_id}"): NOT_FOUND,
    ("POST", "/threads/{thread_id}/runs/{run_id}/cancel"): Custom(cancel_her_running_run),
    ("POST", "/runs/cancel"): Custom(cancel_many),
    ("GET", "/threads/{thread_id}/runs/{run_id}/join"): Custom(join_her_run),
    ("GET", "/threads/{thread_id}/runs/{run_id}/stream"): Custom(join_her_stream),
    # crons
    ("POST", "/runs/crons"): Refused(
        (404,), lambda w: {"assistant_id": w.assistant_id, "schedule": SCHEDULE}
    ),
    ("POST", "/threads/{thread_id}/runs/crons"): Refused(
        (404,), {"assistant_id": "agent", "schedule": SCHEDULE}
    ),
    ("POST", "/runs/crons/search"): Custom(search_crons),
    ("POST", "/runs/crons/count"): Custom(count_crons),
    ("GET", "/runs/crons/{cron_id}"): NOT_FOUND,
    ("PATCH", "/runs/crons/{cron_id}"): Refused((404,), {"enabled": False}),
    ("DELETE", "/runs/crons/{cron_id}"): NOT_FOUND,
    # the store
    ("PUT", "/store/items"): Custom(store_put),
    ("GET", "/store/items"): Custom(store_get),
    ("DELETE", "/store/items"): Custom(store_delete),
    ("POST", "/store/items/search"): Custom(store_search),
    ("POST", "/store/namespaces"): Custom(store_namespaces),
    # protocols
    ("POST", "/a2a/{assistant_id}"): Custom(a2a),
    ("POST", "/mcp"): Custom(mcp),
    ("DELETE", "/mcp"): NOT_FOUND,
}


async def test_every_route_is_public_or_has_an_isolation_case(auth_server: ServerProcess) -> None:
    routes = await route_table(auth_server)
    unchecked = sorted(routes - PUBLIC - set(PROBES))
    assert unchecked == [], f"routes without an isolation case in PROBES: {unchecked}"
    assert PUBLIC <= routes and set(PROBES) <= routes, "PUBLIC or PROBES name a route gone"


async def test_bob_reaches_nothing_of_alices(
    auth_server: ServerProcess, alice_world: AliceWorld
) -> None:
    failures = []
    async with http_as(auth_server.url, BOB) as bob:
        for method, path in sorted((await route_table(auth_server)) - PUBLIC):
            probe = PROBES.get((method, path))
            if probe is None:
                failures.append(f"{method} {path}: no isolation case")
                continue
            try:
                # A stream Bob could follow would never end: that is a failure too.
                problem = await asyncio.wait_for(probe.run(bob, alice_world, method, path), 20)
            except TimeoutError:
                problem = "no answer within 20 s (a stream of her run or thread?)"
            if problem:
                failures.append(f"{method} {path}: {problem}")
            if method != "GET" and (changed := await intact(auth_server.url, alice_world)):
                failures.append(f"after {method} {path}: {changed}")
    assert failures == [], "\n".join(failures)


async def test_alice_still_reaches_all_of_it(
    auth_server: ServerProcess, alice_world: AliceWorld
) -> None:
    assert await intact(auth_server.url, alice_world) == []
