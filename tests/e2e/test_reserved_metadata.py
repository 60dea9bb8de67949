"""Reserved metadata keys (`thread_id`, `run_id`, `assistant_id`, `cron_id`) are the
server's: stripped from what clients send to threads, assistants and runs, and set by the
server where the reference sets them. `graph_id` is not reserved (`threads.create(graph_id=)`
of the SDK sends it in metadata), so a client's own is kept, as on the reference.
"""

from __future__ import annotations

import uuid

from tests.support.graphs import AGENT_ASSISTANT_ID, human

RESERVED = {
    "thread_id": "client-thread",
    "run_id": "client-run",
    "assistant_id": "client-assistant",
    "cron_id": "client-cron",
}
SYSTEM = {"created_by": "system"}  # the metadata of a graph's own assistant


async def test_thread_create_and_patch_strip_reserved_keys(client, tag):
    thread = await client.threads.create(metadata={**RESERVED, "graph_id": "mine", "tag": tag})
    assert thread["metadata"] == {"graph_id": "mine", "tag": tag}

    patched = await client.threads.update(
        thread["thread_id"], metadata={**RESERVED, "graph_id": "theirs", "more": 1}
    )
    assert patched["metadata"] == {"graph_id": "theirs", "tag": tag, "more": 1}
    assert (await client.threads.get(thread["thread_id"]))["metadata"] == patched["metadata"]

    copy = await client.threads.copy(thread["thread_id"])
    assert copy["metadata"] == patched["metadata"]
    # Nothing to find under a reserved key a client sent.
    assert await client.threads.search(metadata={"thread_id": "client-thread", "tag": tag}) == []


async def test_assistant_create_and_patch_strip_reserved_keys(client, tag):
    assistant = await client.assistants.create(
        "agent", metadata={**RESERVED, "graph_id": "mine", "tag": tag}
    )
    assert assistant["metadata"] == {"graph_id": "mine", "tag": tag}

    patched = await client.assistants.update(
        assistant["assistant_id"], metadata={**RESERVED, "more": 1}
    )
    assert patched["metadata"] == {"graph_id": "mine", "tag": tag, "more": 1}


async def test_a_run_on_a_thread_sets_its_own_ids(client, tag):
    thread = await client.threads.create(
        metadata={"tag": tag, "graph_id": "stale", "assistant_id": "stale"}
    )
    thread_id = thread["thread_id"]
    assistant = await client.assistants.create("agent", metadata={"tag": tag, **RESERVED})

    run = await client.runs.create(
        thread_id,
        assistant["assistant_id"],
        input=human("hi"),
        metadata={**RESERVED, "graph_id": "client-graph", "mine": 1},
    )
    await client.runs.join(thread_id, run["run_id"])

    expected = {"tag": tag, "graph_id": "client-graph", "mine": 1}
    expected["assistant_id"] = assistant["assistant_id"]
    assert run["metadata"] == expected
    assert (await client.runs.get(thread_id, run["run_id"]))["metadata"] == expected
    # The thread is marked with the run's graph and assistant, not the client's metadata.
    after = await client.threads.get(thread_id)
    assert after["metadata"] == {
        "tag": tag,
        "graph_id": "agent",
        "assistant_id": assistant["assistant_id"],
    }


async def test_a_run_that_creates_its_thread_gives_it_the_requests_metadata(client, tag):
    thread_id = str(uuid.uuid4())

    run = await client.runs.create(
        thread_id,
        "agent",
        input=human("hi"),
        if_not_exists="create",
        metadata={**RESERVED, "tag": tag, "graph_id": "client-graph"},
        config={"metadata": {"from_config": 1}},
    )
    await client.runs.join(thread_id, run["run_id"])

    assert run["metadata"] == {
        **SYSTEM,
        "tag": tag,
        "graph_id": "client-graph",
        "from_config": 1,
        "assistant_id": AGENT_ASSISTANT_ID,
    }
    thread = await client.threads.get(thread_id)
    assert thread["metadata"] == {
        "tag": tag,
        "from_config": 1,
        "graph_id": "agent",
        "assistant_id": AGENT_ASSISTANT_ID,
    }


async def test_a_stateless_run_kept_has_the_requests_metadata_on_its_thread(client, tag):
    run = await client.runs.create(
        None, "agent", input=human("hi"), on_completion="keep", metadata={**RESERVED, "tag": tag}
    )
    await client.runs.join(run["thread_id"], run["run_id"])

    # No thread existed to take a graph_id from, so the run's metadata has none, as there.
    assert run["metadata"] == {**SYSTEM, "tag": tag, "assistant_id": AGENT_ASSISTANT_ID}
    [found] = await client.threads.search(metadata={"tag": tag})
    assert found["thread_id"] == run["thread_id"]
    assert found["metadata"] == {
        "tag": tag,
        "graph_id": "agent",
        "assistant_id": AGENT_ASSISTANT_ID,
    }
