"""A2A v0.3 through the real `a2a-sdk` 0.3 client, on both backends: the card, send,
stream, get, cancel, conversations over one context, and the interrupt round trip."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.errors import A2AClientJSONRPCError
from a2a.types import (
    DataPart,
    Message,
    Part,
    Role,
    Task,
    TaskArtifactUpdateEvent,
    TaskIdParams,
    TaskQueryParams,
    TaskState,
    TaskStatusUpdateEvent,
    TextPart,
)

from tests.support.server import ServerProcess

REPLY = "hello there friend"


def text_message(text: str, **ids: Any) -> Message:
    return Message(
        role=Role.user, message_id=str(uuid.uuid4()), parts=[Part(root=TextPart(text=text))], **ids
    )


def texts(parts: list[Part]) -> list[str]:
    return [p.root.text for p in parts if isinstance(p.root, TextPart)]


async def connect(server: ServerProcess, http: httpx.AsyncClient, assistant: str, **config: Any):
    card = await A2ACardResolver(http, f"{server.url}/a2a/{assistant}").get_agent_card()
    return ClientFactory(ClientConfig(httpx_client=http, **config)).create(card)


async def send(client: Any, message: Message) -> tuple[Task, list[Any]]:
    """The last task the client reports, and every update event on the way."""
    task, updates = None, []
    async for item in client.send_message(message):
        assert isinstance(item, tuple), item
        task, update = item
        if update is not None:
            updates.append(update)
    assert task is not None
    return task, updates


@pytest.fixture
async def a2a_http():
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


async def test_card_is_served_at_every_location(server: ServerProcess, a2a_http) -> None:
    resolver = A2ACardResolver(a2a_http, f"{server.url}/a2a/agent")
    card = await resolver.get_agent_card()
    assert card.name == "agent"
    assert card.protocol_version == "0.3.0"
    assert card.capabilities.streaming is True
    assert card.url.startswith(f"{server.url}/a2a/")
    assistant_id = card.url.rsplit("/", 1)[-1]
    assert card.skills[0].id == f"{assistant_id}-main"
    root = A2ACardResolver(a2a_http, server.url)
    same = await root.get_agent_card(
        relative_card_path=f"/.well-known/agent-card.json?assistant_id={assistant_id}"
    )
    legacy = await resolver.get_agent_card(relative_card_path="/.well-known/agent.json")
    assert same.url == legacy.url == card.url


async def test_card_honours_forwarded_headers(server: ServerProcess, http) -> None:
    headers = {"x-forwarded-proto": "https", "x-forwarded-host": "agents.example.com"}
    card = (await http.get("/a2a/agent/.well-known/agent-card.json", headers=headers)).json()
    assert card["url"].startswith("https://agents.example.com/a2a/")
    assert (await http.get("/a2a/agent")).json()["name"] == "agent"


async def test_send_get_and_cancel_a_finished_task(server: ServerProcess, a2a_http) -> None:
    client = await connect(server, a2a_http, "agent", streaming=False)
    task, _ = await send(client, text_message("hi"))
    assert task.status.state == TaskState.completed
    assert texts(task.artifacts[0].parts) == [REPLY]
    assert [m.role for m in task.history] == [Role.user, Role.agent]

    got = await client.get_task(TaskQueryParams(id=task.id, history_length=1))
    assert got.status.state == TaskState.completed
    assert got.context_id == task.context_id
    assert texts(got.history[0].parts) == [REPLY]
    assert texts(got.artifacts[0].parts) == [REPLY]

    with pytest.raises(A2AClientJSONRPCError) as refused:
        await client.cancel_task(TaskIdParams(id=task.id))
    assert refused.value.error.code == -32002
    with pytest.raises(A2AClientJSONRPCError) as missing:
        await client.get_task(TaskQueryParams(id=str(uuid.uuid4())))
    assert missing.value.error.code == -32001


async def test_stream_reports_progress_then_the_result(server: ServerProcess, a2a_http) -> None:
    client = await connect(server, a2a_http, "agent", streaming=True)
    task, updates = await send(client, text_message("hi"))
    statuses = [u.status.state for u in updates if isinstance(u, TaskStatusUpdateEvent)]
    assert statuses[0] == TaskState.working
    assert statuses[-1] == TaskState.completed
    assert updates[-1].final is True
    partial = [
        texts(u.status.message.parts)[0]
        for u in updates
        if isinstance(u, TaskStatusUpdateEvent) and u.status.message
    ]
    assert partial and partial[-1] == REPLY
    artifacts = [u for u in updates if isinstance(u, TaskArtifactUpdateEvent)]
    assert texts(artifacts[-1].artifact.parts) == [REPLY]
    assert task.status.state == TaskState.completed


async def test_a_context_is_a_conversation(server: ServerProcess, a2a_http, client) -> None:
    a2a = await connect(server, a2a_http, "agent", streaming=False)
    first, _ = await send(a2a, text_message("one"))
    second, _ = await send(a2a, text_message("two", context_id=first.context_id))
    assert second.context_id == first.context_id
    assert second.id != first.id
    assert len(second.history) == 4
    state = await client.threads.get_state(first.context_id)
    assert state["values"]["count"] == 2
    run = await client.runs.get(first.context_id, second.id)
    assert run["status"] == "success"


@pytest.mark.parametrize("streaming", [False, True])
async def test_interrupt_then_resume(server: ServerProcess, a2a_http, streaming: bool) -> None:
    client = await connect(server, a2a_http, "hitl", streaming=streaming)
    asked, _ = await send(client, text_message("please"))
    assert asked.status.state == TaskState.input_required
    interrupt = asked.artifacts[-1].parts[0].root
    assert isinstance(interrupt, DataPart)
    assert interrupt.data["value"] == {"question": "approve?"}

    answer = text_message("yes", task_id=asked.id, context_id=asked.context_id)
    done, _ = await send(client, answer)
    assert done.status.state == TaskState.completed
    assert texts(done.artifacts[-1].parts) == ["you said: yes"]

    # A resume data part works on the context alone.
    again, _ = await send(client, text_message("again", context_id=asked.context_id))
    assert again.status.state == TaskState.input_required
    resume = Message(
        role=Role.user,
        message_id=str(uuid.uuid4()),
        context_id=asked.context_id,
        parts=[Part(root=DataPart(data={"resume": "ok"}))],
    )
    done, _ = await send(client, resume)
    assert texts(done.artifacts[-1].parts) == ["you said: ok"]
    # The first task has ended: it takes no more messages.
    with pytest.raises(A2AClientJSONRPCError) as ended:
        await send(client, text_message("late", task_id=asked.id))
    assert ended.value.error.code == -32602


async def test_a_failing_run_is_a_failed_task(server: ServerProcess, a2a_http) -> None:
    client = await connect(server, a2a_http, "errgraph", streaming=False)
    task, _ = await send(client, text_message("hi"))
    assert task.status.state == TaskState.failed
    assert "kaboom" in texts(task.status.message.parts)[0]


async def test_cancel_a_running_task(server: ServerProcess, a2a_http, client) -> None:
    a2a = await connect(server, a2a_http, "slow", streaming=False, polling=True)
    task, _ = await send(a2a, text_message("hi"))
    assert task.status.state in (TaskState.submitted, TaskState.working)
    canceled = await a2a.cancel_task(TaskIdParams(id=task.id))
    assert canceled.status.state == TaskState.canceled
    got = await a2a.get_task(TaskQueryParams(id=task.id))
    assert got.status.state == TaskState.canceled
    assert (await client.runs.get(task.context_id, task.id))["status"] == "interrupted"


async def test_a_streaming_client_that_leaves_cancels_its_task(
    server: ServerProcess, http, client
) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "message/stream",
        "params": {
            "message": {
                "kind": "message",
                "role": "user",
                "messageId": "m1",
                "parts": [{"kind": "text", "text": "hi"}],
            }
        },
    }
    headers = {"accept": "text/event-stream"}
    async with http.stream("POST", "/a2a/slow", json=body, headers=headers) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:") and '"kind":"task"' in line:
                task = httpx.Response(200, content=line[5:]).json()["result"]
                break
    thread_id, run_id = task["contextId"], task["id"]
    for _ in range(50):
        run = await client.runs.get(thread_id, run_id)
        if run["status"] == "interrupted":
            break
        await asyncio.sleep(0.1)
    assert run["status"] == "interrupted"


async def test_resubscribe_to_a_running_task(server: ServerProcess, a2a_http) -> None:
    a2a = await connect(server, a2a_http, "slow", streaming=True, polling=True)
    polled = await connect(server, a2a_http, "slow", streaming=False, polling=True)
    task, _ = await send(polled, text_message("hi"))
    seen = [item async for item in a2a.resubscribe(TaskIdParams(id=task.id))]
    final = seen[-1][0]
    assert final.status.state == TaskState.completed
    assert texts(final.artifacts[-1].parts) == ["slept 2s"]
    # An ended task has nothing more to stream.
    with pytest.raises(A2AClientJSONRPCError) as ended:
        async for _ in a2a.resubscribe(TaskIdParams(id=task.id)):
            pass
    assert ended.value.error.code == -32004
