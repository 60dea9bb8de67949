"""Drives a server with the newer protocol clients: a2a-sdk 1.x (A2A v1.0, and its
v0.3 compatibility transport) and mcp 2.x. Run by the virtualenv of `client_venv`, not
by the test environment (which has a2a-sdk 0.3 and mcp 1.x):

    python protocol_clients_v2.py a2a|mcp URL '{"json": "args"}'

Prints one line of JSON: what the client saw, for the test to check.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

import httpx


def _texts(parts: Any) -> list[str]:
    return [p.text for p in parts if p.WhichOneof("content") == "text"]


async def _a2a(url: str, args: dict[str, Any]) -> dict[str, Any]:
    from a2a.client import ClientConfig, ClientFactory, create_client
    from a2a.client.card_resolver import A2ACardResolver
    from a2a.types import a2a_pb2 as pb
    from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError
    from google.protobuf import json_format

    def message(text: str | None = None, data: Any = None, **ids: str) -> pb.SendMessageRequest:
        part = pb.Part(text=text) if text is not None else json_format.ParseDict(data, pb.Part())
        msg = pb.Message(role=pb.ROLE_USER, message_id=str(uuid.uuid4()), parts=[part], **ids)
        return pb.SendMessageRequest(message=msg)

    async def send(client: Any, request: pb.SendMessageRequest) -> tuple[Any, list[str]]:
        task, kinds = None, []
        async for event in client.send_message(request):
            kind = event.WhichOneof("payload")
            kinds.append(kind)
            if kind == "task":
                task = event.task
            elif kind == "status_update":
                task.status.CopyFrom(event.status_update.status)
            elif kind == "artifact_update":
                task.artifacts.append(event.artifact_update.artifact)
        return task, kinds

    def state(task: Any) -> str:
        return pb.TaskState.Name(task.status.state)

    report: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=30.0) as http:
        plain = ClientConfig(streaming=False, httpx_client=http)
        client = await create_client(f"{url}/a2a/agent", client_config=plain)
        task, _ = await send(client, message("hi"))
        report["send"] = {
            "state": state(task),
            "artifact": _texts(task.artifacts[0].parts),
            "roles": [pb.Role.Name(m.role) for m in task.history],
        }
        got = await client.get_task(pb.GetTaskRequest(id=task.id, history_length=1))
        report["get"] = {"state": state(got), "history": len(got.history)}
        try:
            await client.cancel_task(pb.CancelTaskRequest(id=task.id))
        except TaskNotCancelableError:
            report["cancel_finished"] = "TaskNotCancelableError"
        try:
            await client.get_task(pb.GetTaskRequest(id=str(uuid.uuid4())))
        except TaskNotFoundError:
            report["get_unknown"] = "TaskNotFoundError"
        listed = await client.list_tasks(pb.ListTasksRequest(context_id=task.context_id))
        report["list"] = [t.id for t in listed.tasks] == [task.id]

        streaming = await create_client(
            f"{url}/a2a/agent", client_config=ClientConfig(streaming=True, httpx_client=http)
        )
        task, kinds = await send(streaming, message("hi"))
        report["stream"] = {
            "kinds": kinds,
            "state": state(task),
            "artifact": _texts(task.artifacts[-1].parts),
        }

        hitl = await create_client(f"{url}/a2a/hitl", client_config=plain)
        asked, _ = await send(hitl, message("please"))
        interrupt = json_format.MessageToDict(asked.artifacts[-1].parts[0])
        answer = message("yes", task_id=asked.id, context_id=asked.context_id)
        done, _ = await send(hitl, answer)
        again, _ = await send(hitl, message("again", context_id=asked.context_id))
        resumed, _ = await send(
            hitl, message(data={"data": {"resume": "ok"}}, context_id=asked.context_id)
        )
        report["hitl"] = {
            "asked": state(asked),
            "interrupt": interrupt["data"]["value"],
            "done": state(done),
            "answer": _texts(done.artifacts[-1].parts),
            "again": state(again),
            "resumed": _texts(resumed.artifacts[-1].parts),
        }

        polling = ClientConfig(streaming=False, polling=True, httpx_client=http)
        slow = await create_client(f"{url}/a2a/slow", client_config=polling)
        running, _ = await send(slow, message("hi"))
        canceled = await slow.cancel_task(pb.CancelTaskRequest(id=running.id))
        report["cancel"] = {"submitted": state(running), "canceled": state(canceled)}

        watched, _ = await send(slow, message("hi"))
        watcher = await create_client(
            f"{url}/a2a/slow", client_config=ClientConfig(streaming=True, httpx_client=http)
        )
        subscribed = [
            e.WhichOneof("payload")
            async for e in watcher.subscribe(pb.SubscribeToTaskRequest(id=watched.id))
        ]
        report["subscribe"] = subscribed

        # An agent card without the v1.0 interface: the client's v0.3 transport.
        card = await A2ACardResolver(http, f"{url}/a2a/agent").get_agent_card()
        legacy = [i for i in card.supported_interfaces if i.protocol_version != "1.0"]
        del card.supported_interfaces[:]
        card.supported_interfaces.extend(legacy)
        compat = ClientFactory(ClientConfig(streaming=True, httpx_client=http)).create(card)
        task, kinds = await send(compat, message("hi"))
        report["compat"] = {"state": state(task), "kinds": sorted(set(kinds))}
    return report


async def _mcp(url: str, args: dict[str, Any]) -> dict[str, Any]:
    from mcp import Client

    async with Client(f"{url}/mcp") as client:
        tools = (await client.list_tools()).tools
        called = await client.call_tool("agent", {"messages": "hi"})
        failed = await client.call_tool("errgraph", {"messages": "hi"})
        values = json.loads(called.content[0].text)
        return {
            "protocol_version": client.protocol_version,
            "tools": [t.name for t in tools],
            "schema": tools[[t.name for t in tools].index("agent")].input_schema,
            "reply": values["messages"][-1]["content"],
            "structured": called.structured_content == values,
            "error": [failed.is_error, failed.content[0].text],
        }


def main() -> None:
    scenario, url, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    run = {"a2a": _a2a, "mcp": _mcp}[scenario]
    print(json.dumps(asyncio.run(run(url, args))))


if __name__ == "__main__":
    main()
