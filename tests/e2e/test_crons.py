"""The cron API through the real SDK (`client.crons.*`) and raw HTTP, on both backends.

These crons are scheduled far from now (or disabled), so none fires here; firing is in
test_crons_firing.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from langgraph_sdk.errors import NotFoundError, UnprocessableEntityError

from tests.support.contract import CRON_KEYS
from tests.support.graphs import AGENT_ASSISTANT_ID

YEARLY = "0 9 1 1 *"  # 09:00 on January 1st: never during a test


async def test_create_returns_the_cron_as_the_reference_shapes_it(client, tag) -> None:
    cron = await client.crons.create(
        "agent",
        schedule=YEARLY,
        input={"messages": []},
        metadata={"tag": tag, "cron_id": "stripped", "thread_id": "stripped"},
        config={"configurable": {"model": "m", "openai_api_key": "sk-secret"}},
        context=None,
        timezone="America/New_York",
    )
    assert set(cron) == CRON_KEYS
    assert cron["assistant_id"] == AGENT_ASSISTANT_ID
    assert cron["thread_id"] is None
    assert cron["on_run_completed"] == "delete"
    assert cron["enabled"] is True
    assert cron["timezone"] == "America/New_York"
    assert cron["metadata"] == {"tag": tag}
    payload = cron["payload"]
    assert payload["input"] == {"messages": []}
    assert payload["assistant_id"] == AGENT_ASSISTANT_ID
    # Secrets never reach the cron row; the cron id reaches every run's config.
    assert payload["config"] == {"configurable": {"model": "m", "cron_id": cron["cron_id"]}}
    assert "sk-secret" not in str(cron)
    # 09:00 New York on January 1st is 14:00 UTC (EST, UTC-5).
    next_run = datetime.fromisoformat(cron["next_run_date"])
    assert next_run.utcoffset() == timedelta(0)
    assert (next_run.month, next_run.day, next_run.hour, next_run.minute) == (1, 1, 14, 0)
    assert next_run > datetime.now(UTC)
    assert await client.crons.search(metadata={"tag": tag}) == [cron]


async def test_a_thread_cron_belongs_to_its_thread_and_goes_with_it(client, tag) -> None:
    thread = await client.threads.create(metadata={"tag": tag})
    cron = await client.crons.create_for_thread(
        thread["thread_id"], "agent", schedule=YEARLY, multitask_strategy="enqueue"
    )
    assert cron["thread_id"] == thread["thread_id"]
    assert cron["on_run_completed"] is None
    assert await client.crons.search(thread_id=thread["thread_id"]) == [cron]
    await client.threads.delete(thread["thread_id"])
    assert await client.crons.search(thread_id=thread["thread_id"]) == []
    with pytest.raises(NotFoundError):
        await client.crons.update(cron["cron_id"], enabled=False)


async def test_deleting_an_assistant_deletes_its_crons(client, tag) -> None:
    assistant = await client.assistants.create(graph_id="agent", metadata={"tag": tag})
    cron = await client.crons.create(assistant["assistant_id"], schedule=YEARLY)
    await client.assistants.delete(assistant["assistant_id"])
    assert await client.crons.count(assistant_id=assistant["assistant_id"]) == 0
    with pytest.raises(NotFoundError):
        await client.crons.delete(cron["cron_id"])


async def test_update_changes_what_it_is_given(client, tag) -> None:
    end = datetime(2099, 1, 1, tzinfo=UTC)
    cron = await client.crons.create(
        "agent", schedule=YEARLY, metadata={"tag": tag, "a": 1}, end_time=end
    )
    assert datetime.fromisoformat(cron["end_time"]) == end
    updated = await client.crons.update(
        cron["cron_id"],
        schedule="30 10 1 1 *",
        timezone=ZoneInfo("Asia/Tokyo"),
        metadata={"b": 2},
        enabled=False,
        on_run_completed="keep",
        input={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert updated["schedule"] == "30 10 1 1 *"
    assert updated["timezone"] == "Asia/Tokyo"
    assert updated["metadata"] == {"tag": tag, "a": 1, "b": 2}
    assert updated["enabled"] is False
    assert updated["on_run_completed"] == "keep"
    assert datetime.fromisoformat(updated["end_time"]) == end  # not sent: kept
    assert updated["payload"]["input"]["messages"][0]["content"] == "hi"
    assert updated["payload"]["metadata"] == {"b": 2}
    # 10:30 in Tokyo (UTC+9) is 01:30 UTC.
    next_run = datetime.fromisoformat(updated["next_run_date"])
    assert (next_run.month, next_run.day, next_run.hour, next_run.minute) == (1, 1, 1, 30)
    assert updated["updated_at"] > cron["updated_at"]

    cleared = await client.crons.update(cron["cron_id"], end_time=None)
    assert cleared["end_time"] is None


async def test_search_count_sort_select_and_pagination_headers(client, http, tag) -> None:
    created = [
        await client.crons.create("agent", schedule=f"0 {hour} 1 1 *", metadata={"tag": tag})
        for hour in (3, 1, 2)
    ]
    disabled = await client.crons.create(
        "agent", schedule=YEARLY, metadata={"tag": tag}, enabled=False
    )
    assert await client.crons.count(metadata={"tag": tag}) == 4
    assert await client.crons.count(assistant_id=AGENT_ASSISTANT_ID, metadata={"tag": tag}) == 4
    found = await client.crons.search(metadata={"tag": tag}, enabled=False)
    assert [c["cron_id"] for c in found] == [disabled["cron_id"]]
    by_next = await client.crons.search(
        metadata={"tag": tag}, enabled=True, sort_by="next_run_date", sort_order="asc"
    )
    assert [c["cron_id"] for c in by_next] == [created[i]["cron_id"] for i in (1, 2, 0)]
    selected = await client.crons.search(
        metadata={"tag": tag}, select=["cron_id", "schedule"], limit=1
    )
    assert len(selected) == 1 and set(selected[0]) == {"cron_id", "schedule"}

    first = await http.post(
        "/runs/crons/search", json={"metadata": {"tag": tag}, "limit": 3, "sort_by": "cron_id"}
    )
    assert first.status_code == 200
    assert first.headers["x-pagination-next"] == "3"
    assert first.headers["x-pagination-total"] == "4"
    last = await http.post(
        "/runs/crons/search",
        json={"metadata": {"tag": tag}, "limit": 3, "offset": 3, "sort_by": "cron_id"},
    )
    assert "x-pagination-next" not in last.headers
    assert last.headers["x-pagination-total"] == "4"
    assert len(first.json()) + len(last.json()) == 4


async def test_get_and_delete(client, http, tag) -> None:
    cron = await client.crons.create("agent", schedule=YEARLY, metadata={"tag": tag})
    got = await http.get(f"/runs/crons/{cron['cron_id']}")
    assert got.status_code == 200 and got.json() == cron
    await client.crons.delete(cron["cron_id"])
    missing = await http.get(f"/runs/crons/{cron['cron_id']}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": f"Cron '{cron['cron_id']}' not found"}
    with pytest.raises(NotFoundError):
        await client.crons.delete(cron["cron_id"])


@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        (
            "/runs/crons",
            {"assistant_id": "agent", "schedule": "every day"},
            422,
            "Invalid cron schedule: 'every day'",
        ),
        (
            "/runs/crons",
            {"assistant_id": "agent", "schedule": "61 * * * *"},
            422,
            "Invalid cron schedule: '61 * * * *'",
        ),
        (
            "/runs/crons",
            {"assistant_id": "agent", "schedule": "* * * * *", "timezone": "Mars/Olympus"},
            422,
            "Invalid timezone: 'Mars/Olympus'",
        ),
        ("/runs/crons", {"assistant_id": "agent"}, 422, "schedule"),
        (
            "/runs/crons",
            {"assistant_id": "agent", "schedule": "* * * * *", "end_time": "soon"},
            422,
            "end_time",
        ),
        (
            "/runs/crons",
            {"assistant_id": "agent", "schedule": "* * * * *", "on_run_completed": "never"},
            422,
            "on_run_completed",
        ),
        (
            "/runs/crons",
            {"assistant_id": "00000000-0000-0000-0000-000000000000", "schedule": "* * * * *"},
            404,
            "Assistant '00000000-0000-0000-0000-000000000000' not found",
        ),
        (
            "/runs/crons",
            {"assistant_id": "no-such-graph", "schedule": "* * * * *"},
            404,
            "Assistant 'no-such-graph' not found",
        ),
        (
            "/threads/00000000-0000-0000-0000-000000000000/runs/crons",
            {"assistant_id": "agent", "schedule": "* * * * *"},
            404,
            "Thread with ID '00000000-0000-0000-0000-000000000000' not found",
        ),
        (
            "/threads/not-a-uuid/runs/crons",
            {"assistant_id": "agent", "schedule": "* * * * *"},
            422,
            "Invalid thread ID: must be a UUID",
        ),
        (
            "/runs/crons",
            {
                "assistant_id": "agent",
                "schedule": "* * * * *",
                "config": {"configurable": {"a": 1}},
                "context": {"a": 1},
            },
            400,
            "configurable",
        ),
        ("/runs/crons/search", {"assistant_id": "agent"}, 422, "Invalid assistant ID"),
        ("/runs/crons/search", {"sort_by": "schedule"}, 422, "sort_by"),
        ("/runs/crons/search", {"select": ["nope"]}, 422, "select"),
        ("/runs/crons/search", {"limit": 0}, 422, "limit"),
        ("/runs/crons/count", {"thread_id": "abc"}, 422, "Invalid thread ID"),
    ],
)
async def test_bad_requests_get_a_clear_4xx(http, path, body, status, detail) -> None:
    response = await http.post(path, json=body)
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]


async def test_patch_errors(client, http, tag) -> None:
    cron = await client.crons.create("agent", schedule=YEARLY, metadata={"tag": tag})
    path = f"/runs/crons/{cron['cron_id']}"
    empty = await http.patch(path, json={})
    assert empty.status_code == 400
    assert empty.json() == {"detail": "Request body cannot be empty"}
    bad = await http.patch(path, json={"schedule": "x"})
    assert bad.status_code == 422 and "Invalid cron schedule: 'x'" in bad.json()["detail"]
    zone = await http.patch(path, json={"timezone": "Bad/Zone"})
    assert zone.status_code == 422 and "Invalid timezone: 'Bad/Zone'" in zone.json()["detail"]
    assert (await http.get(path)).json() == cron  # nothing changed
    missing = await http.patch("/runs/crons/00000000-0000-0000-0000-000000000000", json={})
    assert missing.status_code in (400, 404)
    unknown = await http.patch(
        "/runs/crons/00000000-0000-0000-0000-000000000000", json={"enabled": True}
    )
    assert unknown.status_code == 404
    malformed = await http.get("/runs/crons/not-a-uuid")
    assert malformed.status_code == 422
    assert malformed.json() == {"detail": "Invalid cron ID: must be a UUID"}
    with pytest.raises(UnprocessableEntityError):
        await client.crons.update(cron["cron_id"], schedule="nope")


async def test_info_and_openapi_list_crons(http) -> None:
    info = (await http.get("/info")).json()
    assert info["flags"]["crons"] is True
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert {"post"} <= set(paths["/runs/crons"])
    assert {"post"} <= set(paths["/threads/{thread_id}/runs/crons"])
    assert {"post"} <= set(paths["/runs/crons/search"])
    assert {"post"} <= set(paths["/runs/crons/count"])
    assert {"get", "patch", "delete"} <= set(paths["/runs/crons/{cron_id}"])
