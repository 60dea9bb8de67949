"""Opening persistence without a reachable database: in-memory mode, the fallback, and
failure messages that name host and port but never the password. (With a database:
tests/postgres/test_database.py.)"""

from __future__ import annotations

import logging
import socket

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from robyn_server.app.persistence import DatabaseUnavailable, open_persistence, probe
from robyn_server.storage.memory.storage import InMemoryStorage
from tests.support.persistence import SECRET, STORE_INDEX


def closed_port() -> int:
    """A local port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dead_url() -> str:
    return f"postgresql://someone:{SECRET}@127.0.0.1:{closed_port()}/nowhere"


async def test_probe_names_host_and_port_but_not_the_password() -> None:
    url = dead_url()
    port = url.rsplit(":", 1)[1].split("/")[0]
    with pytest.raises(DatabaseUnavailable) as caught:
        await probe(url, timeout=3)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert SECRET not in message
    assert caught.value.__cause__ is None


async def test_probe_times_out() -> None:
    # A listening socket that never completes the Postgres handshake.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(DatabaseUnavailable) as caught:
            await probe(f"postgresql://u:{SECRET}@127.0.0.1:{port}/db", timeout=0.5)
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert SECRET not in str(caught.value)


async def test_without_url_everything_is_in_memory() -> None:
    for url in (None, ""):
        persistence = await open_persistence(url)
        assert persistence.mode == "in-memory"
        assert isinstance(persistence.storage, InMemoryStorage)
        assert isinstance(persistence.checkpointer, InMemorySaver)
        assert isinstance(persistence.store, InMemoryStore)
        assert persistence.pool is None
        assert persistence.fallback_reason is None
        await persistence.close()


async def test_in_memory_store_accepts_an_index() -> None:
    persistence = await open_persistence(None, store_index=STORE_INDEX)
    await persistence.store.aput(("docs",), "a", {"text": "hello"})
    hits = await persistence.store.asearch(("docs",), query="hello")
    assert [hit.key for hit in hits] == ["a"]


async def test_unreachable_database_raises() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        await open_persistence(dead_url(), probe_timeout=2)
    assert SECRET not in str(caught.value)


async def test_unreachable_database_falls_back_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="robyn_server.database"):
        persistence = await open_persistence(dead_url(), fallback_to_memory=True, probe_timeout=2)
    assert persistence.mode == "in-memory (fallback)"
    assert isinstance(persistence.storage, InMemoryStorage)
    assert persistence.pool is None
    assert persistence.fallback_reason and "127.0.0.1" in persistence.fallback_reason
    assert SECRET not in persistence.fallback_reason
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "IN-MEMORY" in warnings[0].getMessage()
    assert SECRET not in caplog.text


async def test_rejects_bad_pool_sizes() -> None:
    with pytest.raises(ValueError):
        await open_persistence(dead_url(), pool_min_size=3, pool_max_size=2)
    with pytest.raises(ValueError):
        await open_persistence(dead_url(), pool_min_size=0)


async def test_probe_rejects_an_unparseable_url_without_echoing_it() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        await probe(f"host=127.0.0.1 password {SECRET}")
    assert "not a valid PostgreSQL connection string" in str(caught.value)
    assert SECRET not in str(caught.value)
