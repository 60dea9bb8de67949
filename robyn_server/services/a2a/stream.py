"""message/stream: a run's events as A2A task events (v0.3 shapes, written out by the
call's codec)."""

from __future__ import annotations

from typing import Any

import orjson

from robyn_server.engine.broker import Event, RunChannel
from robyn_server.services import jsonrpc
from robyn_server.services.a2a import tasks
from robyn_server.services.a2a.call import Call
from robyn_server.services.a2a.messages import to_a2a
from robyn_server.services.a2a.tasks import Outcome, build_task
from robyn_server.services.jsonrpc import INTERNAL_ERROR, RpcError


class TaskStream:
    """message/stream (and tasks/resubscribe): the task as it stands (`first`),
    `working` status updates as the run streams (with the agent's message so far), then
    the result as an artifact and the final status."""

    def __init__(self, call: Call, first: dict[str, Any]) -> None:
        self.call = call
        self.first = first
        self.run_id = first["id"]
        self.thread_id = first["contextId"]
        self.working = first["status"]["state"] == "working"

    @classmethod
    def submitted(
        cls,
        call: Call,
        run_id: str,
        thread_id: str,
        message: dict[str, Any],
        history_length: int | None,
    ) -> TaskStream:
        """The stream of a task just created by `message`."""
        task = build_task(run_id, thread_id, call.assistant_id, Outcome("submitted"))
        sent = {**message, "kind": "message", "taskId": run_id, "contextId": thread_id}
        task["history"] = [sent] if history_length != 0 else []
        return cls(call, task)

    def _frame(self, item: dict[str, Any]) -> bytes:
        return jsonrpc.sse_frame(self.call.answer(self.call.codec.event(item)))

    def _status(self, outcome: Outcome, *, final: bool) -> dict[str, Any]:
        status = tasks.status(self.run_id, self.thread_id, outcome)
        return {
            "taskId": self.run_id,
            "contextId": self.thread_id,
            "kind": "status-update",
            "status": status,
            "final": final,
        }

    def opening(self) -> bytes:
        return self._frame(self.first)

    def event(self, event: Event) -> bytes | None:
        if event.name == "metadata" and not self.working:
            self.working = True
            return self._frame(self._status(Outcome("working"), final=False))
        if event.name not in ("messages/partial", "messages/complete"):
            return None
        data = orjson.loads(event.data)
        message = to_a2a(data[-1], self.run_id, self.thread_id) if data else None
        if message is None or message["role"] != "agent":
            return None
        update = self._status(Outcome("working"), final=False)
        update["status"]["message"] = message
        return self._frame(update)

    async def closing(self, channel: RunChannel) -> bytes:
        try:
            scope = await self.call.reads(thread_id=self.thread_id, run_id=self.run_id)
            outcome = await tasks.ended(self.call.ctx, scope, self.run_id, channel)
        except Exception as exc:
            error = RpcError(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
            return jsonrpc.sse_frame(jsonrpc.error(self.call.rpc.id, self.call.codec.error(error)))
        frames = b""
        for artifact in tasks.artifacts(self.run_id, self.call.assistant_id, outcome):
            update = {
                "taskId": self.run_id,
                "contextId": self.thread_id,
                "kind": "artifact-update",
                "artifact": artifact,
                "append": False,
                "lastChunk": True,
            }
            frames += self._frame(update)
        return frames + self._frame(self._status(outcome, final=True))
