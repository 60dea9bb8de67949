"""Run webhooks: a finished run POSTs itself and how it ended to its `webhook` URL.

The receiver is a small HTTP server on loopback inside the test, so the server under
test runs with WEBHOOK_ALLOW_PRIVATE=true; the default server refuses such URLs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from langgraph_sdk import get_client

from tests.support.graphs import human, slow
from tests.support.runs import run_reaches
from tests.support.server import BACKENDS, ServerProcess, serve_backend
from tests.support.webhooks import Receiver


@pytest.fixture(scope="module", params=BACKENDS)
def webhook_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    yield from serve_backend(request, env={"WEBHOOK_ALLOW_PRIVATE": "true"})


@pytest.fixture
def hook_client(webhook_server: ServerProcess):
    return get_client(url=webhook_server.url, api_key=None)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


async def test_a_successful_run_posts_itself_with_its_values(hook_client, receiver) -> None:
    thread = await hook_client.threads.create()
    run = await hook_client.runs.create(
        thread["thread_id"],
        "agent",
        input=human("hi"),
        metadata={"mine": 1},
        webhook=f"{receiver.url}/hooks/done?token=abc",
    )
    path, headers, payload = await receiver.next()
    assert path == "/hooks/done?token=abc"
    assert headers["content-type"] == "application/json"
    assert payload["run_id"] == run["run_id"]
    assert payload["thread_id"] == thread["thread_id"]
    assert payload["assistant_id"] == run["assistant_id"]
    assert payload["metadata"]["mine"] == 1
    assert payload["kwargs"]["webhook"] == f"{receiver.url}/hooks/done?token=abc"
    assert payload["status"] == "success"
    assert [m["content"] for m in payload["values"]["messages"]] == ["hi", "hello there friend"]
    assert "error" not in payload
    assert payload["run_started_at"] <= payload["run_ended_at"] <= payload["webhook_sent_at"]
    # Sent after the run's final status was written.
    assert (await hook_client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"


async def test_a_failed_run_posts_its_error(hook_client, receiver) -> None:
    thread = await hook_client.threads.create()
    run = await hook_client.runs.create(
        thread["thread_id"], "errgraph", input={}, webhook=f"{receiver.url}/failed"
    )
    _, _, payload = await receiver.next()
    assert payload["run_id"] == run["run_id"]
    assert payload["status"] == "error"
    assert payload["error"] == {"error": "ValueError", "message": "kaboom"}


async def test_cancelled_runs_post_interrupted_but_rolled_back_ones_post_nothing(
    hook_client, receiver
) -> None:
    thread = await hook_client.threads.create()
    thread_id = thread["thread_id"]
    hook = f"{receiver.url}/cancelled"
    interrupted = await hook_client.runs.create(
        thread_id, "slow", input=human("x"), config=slow(10), webhook=hook
    )
    await run_reaches(hook_client, thread_id, interrupted["run_id"], ("running",))
    await hook_client.runs.cancel(thread_id, interrupted["run_id"], wait=True)
    _, _, payload = await receiver.next()
    assert payload["run_id"] == interrupted["run_id"]
    assert payload["status"] == "interrupted"

    rolled_back = await hook_client.runs.create(
        thread_id, "slow", input=human("y"), config=slow(10), webhook=hook
    )
    await run_reaches(hook_client, thread_id, rolled_back["run_id"], ("running",))
    await hook_client.runs.cancel(thread_id, rolled_back["run_id"], wait=True, action="rollback")
    after = await hook_client.runs.create(thread_id, "agent", input=human("z"), webhook=hook)
    # Deliveries follow run order: the next one to arrive is the run after the rollback.
    _, _, payload = await receiver.next()
    assert payload["run_id"] == after["run_id"]
    assert payload["status"] == "success"


async def test_a_stateless_run_posts_too(hook_client, receiver) -> None:
    waited = await hook_client.runs.wait(
        None, "agent", input=human("hi"), webhook=f"{receiver.url}/stateless"
    )
    path, _, payload = await receiver.next()
    assert path == "/stateless"
    assert payload["status"] == "success"
    assert payload["kwargs"]["temporary"] is True
    assert payload["values"] == waited


async def test_the_default_server_refuses_local_webhooks(client, http, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    url = f"/threads/{thread['thread_id']}/runs"
    for hook, detail in (
        ("http://localhost:9/hook", "Webhook host blocked: localhost address"),
        ("http://127.0.0.1:9/hook", "Webhook host blocked: loopback address"),
        ("http://10.1.2.3/hook", "Webhook host blocked: private address"),
        ("ftp://example.com/hook", "Webhook URL must start with http:// or https://"),
    ):
        response = await http.post(
            url, json={"assistant_id": "agent", "input": {}, "webhook": hook}
        )
        assert response.status_code == 422, hook
        assert response.json() == {"detail": detail}
    stateless = await http.post(
        "/runs/wait", json={"assistant_id": "agent", "webhook": "http://localhost/x"}
    )
    assert stateless.status_code == 422
    assert await client.runs.list(thread["thread_id"]) == []
