"""Encryption at rest (LANGGRAPH_AES_KEY, LANGGRAPH_AES_FALLBACK_KEYS) through the real
server: what reaches the database is ciphertext, a missing or wrong key fails clearly,
and a fallback key reads data written before a rotation."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.graphs import human
from tests.support.server import BACKENDS, ServerProcess

KEY_1 = "k1-0123456789abcdef0123456789abc"  # 32 bytes
KEY_2 = "k2-0123456789abcdefghijk"  # 24 bytes
KEY_3 = "k3-0123456789abc"  # 16 bytes
YEARLY = "0 0 1 1 *"


def _env(key: str | None, fallbacks: list[str] | None = None) -> dict[str, str]:
    env = {}
    if key is not None:
        env["LANGGRAPH_AES_KEY"] = key
    if fallbacks:
        env["LANGGRAPH_AES_FALLBACK_KEYS"] = ",".join(fallbacks)
    return env


def _start(database_url: str | None, key: str | None, fallbacks: list[str] | None = None):
    return ServerProcess(database_url=database_url, env=_env(key, fallbacks)).start()


async def _write(server: ServerProcess, marker: str) -> dict[str, Any]:
    """A thread with a finished run and a cron, each carrying `marker` in its input."""
    client = get_client(url=server.url)
    tag = _tag(marker)  # metadata is stored in plain text: never the secret itself
    thread = await client.threads.create(metadata={"enc_tag": tag})
    run = await client.runs.create(
        thread["thread_id"],
        "agent",
        input=human(f"run says {marker}"),
        metadata={"visible_meta": tag},
    )
    await client.runs.join(thread["thread_id"], run["run_id"])
    cron = await client.crons.create(
        "agent", schedule=YEARLY, input=human(f"cron says {marker}"), metadata={"m": tag}
    )
    return {"thread_id": thread["thread_id"], "run_id": run["run_id"], "cron_id": cron["cron_id"]}


async def _reads(server: ServerProcess, ids: dict[str, Any]) -> dict[str, httpx.Response]:
    """The reads that return the sealed fields: run, thread, state, cron."""
    t, r = ids["thread_id"], ids["run_id"]
    cron_filter = {"metadata": {"m": _tag(ids["m"])}}
    async with httpx.AsyncClient(base_url=server.url) as http:
        return {
            "run": await http.get(f"/threads/{t}/runs/{r}"),
            "thread": await http.get(f"/threads/{t}"),
            "state": await http.get(f"/threads/{t}/state"),
            "crons": await http.post("/runs/crons/search", json=cron_filter),
        }


async def _assert_readable(server: ServerProcess, ids: dict[str, Any]) -> None:
    marker = ids["m"]
    answers = await _reads(server, ids)
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text)
    assert marker in answers["run"].json()["kwargs"]["input"]["messages"][0]["content"]
    assert marker in str(answers["thread"].json()["values"])
    assert marker in str(answers["state"].json()["values"]["messages"])
    (cron,) = answers["crons"].json()
    assert marker in cron["payload"]["input"]["messages"][0]["content"]


async def _assert_unreadable(server: ServerProcess, ids: dict[str, Any]) -> None:
    for name, answer in (await _reads(server, ids)).items():
        assert answer.status_code == 503, (name, answer.status_code, answer.text)
        detail = answer.json()["detail"]
        assert "LANGGRAPH_AES_KEY" in detail, (name, detail)
        assert ids["m"] not in answer.text


def _dump(database_url: str) -> str:
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed for this test"
    done = subprocess.run(
        [pg_dump, "--data-only", "--dbname", database_url],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode(errors="replace")


async def _assert_checkpoints_encrypted(database_url: str, marker: str) -> None:
    """pg_dump prints bytea as hex, so the checkpoint blobs are checked as bytes too."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await (
            await conn.execute(
                "SELECT type, blob FROM checkpoint_blobs UNION ALL "
                "SELECT type, blob FROM checkpoint_writes"
            )
        ).fetchall()
    stored = [(kind, bytes(blob)) for kind, blob in rows if blob and kind != "empty"]
    assert stored
    for kind, blob in stored:
        assert kind.endswith("+aesgcm"), kind
        assert marker.encode() not in blob


def _tag(marker: str) -> str:
    return marker[::-1].replace("-terces", "tag-")


def _marker() -> str:
    return f"secret-{uuid.uuid4().hex}"


@pytest.mark.postgres
async def test_database_holds_no_plaintext_and_rotation_reads_old_data(
    database_factory: Callable[[], str],
) -> None:
    url = database_factory()

    # 1. Written with KEY_1: the dump holds ciphertext only; metadata stays plain.
    server = _start(url, KEY_1)
    try:
        old = {**await _write(server, marker := _marker()), "m": marker}
        await _assert_readable(server, old)
    finally:
        server.stop()
    dump = _dump(url)
    assert marker not in dump
    assert _tag(marker) in dump  # metadata is searchable, so not encrypted
    assert "$enc:aesgcm:" in dump
    await _assert_checkpoints_encrypted(url, marker)

    # 2. No key: start-up is fine, reads of encrypted data fail clearly (503).
    server = _start(url, None)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/ok")).status_code == 200
        await _assert_unreadable(server, old)
    finally:
        server.stop()

    # 3. A wrong key alone fails just as clearly.
    server = _start(url, KEY_3)
    try:
        await _assert_unreadable(server, old)
    finally:
        server.stop()

    # 4. Rotation: new key, old one as fallback. Old data reads; new data is written.
    server = _start(url, KEY_2, [KEY_1])
    try:
        await _assert_readable(server, old)
        new = {**await _write(server, marker2 := _marker()), "m": marker2}
        await _assert_readable(server, new)
    finally:
        server.stop()
    assert marker2 not in _dump(url)

    # 5. Only the new key: new data reads (so it was written with KEY_2), old does not.
    server = _start(url, KEY_2)
    try:
        await _assert_readable(server, new)
        await _assert_unreadable(server, old)
    finally:
        server.stop()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_encrypted_server_round_trips(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("database_factory")() if backend == "postgres" else None
    server = _start(url, KEY_1)
    try:
        ids = {**await _write(server, marker := _marker()), "m": marker}
        await _assert_readable(server, ids)
        client = get_client(url=server.url)
        # Metadata stays searchable; values cannot be searched (422, naming the key).
        found = await client.threads.search(metadata={"enc_tag": _tag(marker)})
        assert [t["thread_id"] for t in found] == [ids["thread_id"]]
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.post("/threads/search", json={"values": {"x": 1}})
            # A cron payload update merges and stays readable.
            patched = await http.patch(
                f"/runs/crons/{ids['cron_id']}", json={"input": human(f"new {marker}")}
            )
        assert answer.status_code == 422
        assert "LANGGRAPH_AES_KEY" in answer.json()["detail"]
        assert patched.status_code == 200, patched.text
        assert "new " in patched.json()["payload"]["input"]["messages"][0]["content"]
        # A second run on the thread (reads the encrypted checkpoint) still works.
        thread_id = ids["thread_id"]
        result = await client.runs.wait(thread_id, "agent", input=human("again"))
        assert any(marker in str(m) for m in result["messages"])  # type: ignore[index]
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LANGGRAPH_AES_KEY": "too-short"}, "LANGGRAPH_AES_KEY must be 16, 24 or 32 bytes"),
        (
            {"LANGGRAPH_AES_KEY": KEY_1, "LANGGRAPH_AES_FALLBACK_KEYS": f"{KEY_3},bad"},
            "LANGGRAPH_AES_FALLBACK_KEYS must be 16, 24 or 32 bytes",
        ),
        ({"LANGGRAPH_AES_FALLBACK_KEYS": KEY_1}, "LANGGRAPH_AES_KEY is not"),
    ],
    ids=["short-key", "bad-fallback", "fallback-without-key"],
)
def test_malformed_keys_refuse_to_start(env: dict[str, str], message: str) -> None:
    proc = ServerProcess(env=env)
    assert proc.run_to_exit(timeout=30) != 0
    output = proc.output()
    assert message in output
    assert "too-short" not in output and KEY_1 not in output  # keys are never echoed
