"""Store item TTLs: the same behaviour from the in-memory and the Postgres store.

The parity tests run real time against both stores as `open_persistence` builds them,
with TTLs of a second or so; the in-memory internals (sweeps, races) use a fake clock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from langgraph.store.base import BaseStore, PutOp

from robyn_server.app.persistence import open_persistence
from robyn_server.storage.memory.store import TTLInMemoryStore
from robyn_server.storage.persistence import Persistence
from robyn_server.storage.store_ttl import MAX_TTL_MINUTES, check_ttl, ttl_config

TTL = 0.02  # minutes: 1.2 s
SECONDS = TTL * 60
NO_SWEEP = {"sweep_interval_minutes": 60}

Opener = Callable[..., Awaitable[Persistence]]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
async def open_store(request: pytest.FixtureRequest) -> AsyncIterator[Opener]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    opened: list[Persistence] = []

    async def open_(store_ttl: dict[str, Any] | None = None) -> Persistence:
        persistence = await open_persistence(
            url, pool_min_size=1, pool_max_size=2, store_ttl=store_ttl
        )
        opened.append(persistence)
        return persistence

    yield open_
    for persistence in opened:
        await persistence.close()


@pytest.fixture
def ns() -> tuple[str, ...]:
    return ("ttl", uuid.uuid4().hex[:12])


async def keys(store: BaseStore, ns: tuple[str, ...], **kw: Any) -> list[str]:
    return sorted(i.key for i in await store.asearch(ns, **kw))


async def test_expired_item_is_invisible_before_any_sweep(open_store: Opener, ns) -> None:
    store = (await open_store(NO_SWEEP)).store
    await store.aput(ns, "short", {"v": 1}, ttl=TTL)
    await store.aput(ns, "forever", {"v": 2})
    await store.aput((*ns, "only-short"), "k", {"v": 3}, ttl=TTL)
    assert (await store.aget(ns, "short", refresh_ttl=False)).value == {"v": 1}
    assert await keys(store, ns, refresh_ttl=False) == ["forever", "k", "short"]

    await asyncio.sleep(SECONDS + 0.3)
    assert await store.aget(ns, "short") is None
    assert await keys(store, ns) == ["forever"]
    assert await store.alist_namespaces(prefix=ns) == [ns]
    # A refreshing read must not bring an expired item back.
    assert await store.aget(ns, "short", refresh_ttl=True) is None
    assert await keys(store, ns, refresh_ttl=True) == ["forever"]


@pytest.mark.parametrize("how", ["get", "search"])
async def test_refreshing_read_restarts_the_ttl(open_store: Opener, ns, how: str) -> None:
    store = (await open_store(NO_SWEEP)).store
    await store.aput(ns, "kept", {"v": 1}, ttl=TTL)
    await store.aput(ns, "lapsed", {"v": 2}, ttl=TTL)
    await asyncio.sleep(SECONDS * 2 / 3)
    if how == "get":
        assert await store.aget(ns, "kept", refresh_ttl=True)
        assert await store.aget(ns, "lapsed", refresh_ttl=False)
    else:
        assert await keys(store, ns, filter={"v": 1}, refresh_ttl=True) == ["kept"]
        assert await keys(store, ns, filter={"v": 2}, refresh_ttl=False) == ["lapsed"]
    await asyncio.sleep(SECONDS * 2 / 3)
    # Past the first deadline, within the refreshed one (fractional minutes kept exactly).
    assert await keys(store, ns, refresh_ttl=False) == ["kept"]
    await asyncio.sleep(SECONDS / 3 + 0.3)
    assert await keys(store, ns, refresh_ttl=False) == []


@pytest.mark.parametrize(("refresh_on_read", "survives"), [(True, True), (False, False)])
async def test_reads_refresh_by_config_default(
    open_store: Opener, ns, refresh_on_read: bool, survives: bool
) -> None:
    store = (await open_store({**NO_SWEEP, "refresh_on_read": refresh_on_read})).store
    await store.aput(ns, "k", {"v": 1}, ttl=TTL)
    await asyncio.sleep(SECONDS * 2 / 3)
    assert await store.aget(ns, "k")  # refresh_ttl left to the store's default
    await asyncio.sleep(SECONDS * 2 / 3)
    assert (await store.aget(ns, "k", refresh_ttl=False) is not None) is survives


async def test_default_ttl_applies_unless_overridden(open_store: Opener, ns) -> None:
    store = (await open_store({**NO_SWEEP, "default_ttl": TTL})).store
    await store.aput(ns, "defaulted", {"v": 1})
    await store.aput(ns, "never", {"v": 2}, ttl=None)
    await store.aput(ns, "longer", {"v": 3}, ttl=10)
    await asyncio.sleep(SECONDS + 0.3)
    assert await keys(store, ns) == ["longer", "never"]


async def test_a_put_replaces_the_ttl(open_store: Opener, ns) -> None:
    store = (await open_store(NO_SWEEP)).store
    await store.aput(ns, "cleared", {"v": 1}, ttl=TTL)
    await store.aput(ns, "cleared", {"v": 2})
    await store.aput(ns, "gained", {"v": 3})
    await store.aput(ns, "gained", {"v": 4}, ttl=TTL)
    await asyncio.sleep(SECONDS + 0.3)
    assert await keys(store, ns) == ["cleared"]
    assert (await store.aget(ns, "cleared")).value == {"v": 2}


async def stored_keys(persistence: Persistence, ns: tuple[str, ...]) -> set[str]:
    """What is physically kept, expired or not: a sweep is what removes it."""
    store = persistence.store
    if isinstance(store, TTLInMemoryStore):
        return set(store._data.get(ns, {}))
    assert persistence.pool is not None
    async with persistence.pool.connection() as conn:
        cur = await conn.execute("SELECT key FROM store WHERE prefix = %s", (".".join(ns),))
        return {row["key"] for row in await cur.fetchall()}


async def test_sweeper_deletes_expired_items_and_stops_on_close(open_store: Opener, ns) -> None:
    persistence = await open_store({"sweep_interval_minutes": 0.005})  # 0.3 s
    await persistence.store.aput(ns, "gone", {"v": 1}, ttl=0.002)
    await persistence.store.aput(ns, "kept", {"v": 2})
    assert await stored_keys(persistence, ns) == {"gone", "kept"}
    # No reads in between: only the sweeper can delete the item.
    await asyncio.sleep(1.2)
    assert await stored_keys(persistence, ns) == {"kept"}

    sweeper = persistence.store._ttl_sweeper_task  # type: ignore[attr-defined]
    assert sweeper is not None and not sweeper.done()
    await persistence.close()
    assert sweeper.done()


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize("good", [None, 1, 0.005, 1440, MAX_TTL_MINUTES])
def test_check_ttl_accepts(good: Any) -> None:
    assert check_ttl(good) == (None if good is None else float(good))


@pytest.mark.parametrize(
    "bad", [0, -1, True, "5", float("nan"), float("inf"), 1e-6, MAX_TTL_MINUTES * 2, [1]]
)
def test_check_ttl_rejects(bad: Any) -> None:
    with pytest.raises(ValueError, match="ttl"):
        check_ttl(bad)


def test_ttl_config_defaults_and_forces_omit_expired() -> None:
    assert ttl_config(None) == {
        "refresh_on_read": True,
        "default_ttl": None,
        "sweep_interval_minutes": None,
        "omit_expired": True,
    }
    config = ttl_config({"refresh_on_read": False, "default_ttl": 5, "omit_expired": False})
    assert config["default_ttl"] == 5.0 and config["refresh_on_read"] is False
    assert config["omit_expired"] is True


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"refresh_on_read": "yes"},
        {"default_ttl": 0},
        {"default_ttl": "1d"},
        {"sweep_interval_minutes": 0},
        {"sweep_interval_minutes": True},
    ],
)
async def test_bad_store_ttl_fails_opening(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"store\.ttl"):
        await open_persistence(None, store_ttl=bad)


# -- in-memory internals, on a fake clock ---------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mem(clock: Clock) -> TTLInMemoryStore:
    return TTLInMemoryStore(ttl=ttl_config(None), clock=clock)


def test_expires_exactly_at_the_deadline(mem: TTLInMemoryStore, clock: Clock) -> None:
    mem.put(("a",), "k", {"v": 1}, ttl=1)
    clock.now += 59.999
    assert mem.get(("a",), "k", refresh_ttl=False) is not None
    clock.now += 0.001
    assert mem.get(("a",), "k", refresh_ttl=False) is None
    assert mem.list_namespaces() == []
    assert mem._expiry == {}


async def test_sweep_counts_and_frees_memory(mem: TTLInMemoryStore, clock: Clock) -> None:
    mem.put(("a", "b"), "k1", {"v": 1}, ttl=1)
    mem.put(("a", "b"), "k2", {"v": 1}, ttl=2)
    mem.put(("a",), "k3", {"v": 1})
    clock.now += 61
    assert await mem.sweep_ttl() == 1
    assert await mem.sweep_ttl() == 0
    clock.now += 60
    assert await mem.sweep_ttl() == 1
    assert ("a", "b") not in mem._data
    assert list(mem._data) == [("a",)]


def test_sync_api_refreshes_too(mem: TTLInMemoryStore, clock: Clock) -> None:
    mem.put(("a",), "k", {"v": 1}, ttl=1)
    clock.now += 50
    assert [i.key for i in mem.search(("a",))] == ["k"]  # refresh_on_read default
    clock.now += 50
    assert mem.get(("a",), "k", refresh_ttl=False) is not None


def test_emptied_namespaces_are_not_listed(mem: TTLInMemoryStore) -> None:
    mem.put(("a",), "k", {"v": 1})
    mem.delete(("a",), "k")
    assert mem.get(("never", "written"), "k") is None
    assert mem.list_namespaces() == []


def test_a_failed_batch_keeps_the_old_deadline(
    mem: TTLInMemoryStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mem.put(("a",), "k", {"v": 1}, ttl=1)

    class Boom(Exception):
        pass

    def explode(*_: Any) -> None:
        raise Boom

    monkeypatch.setattr(TTLInMemoryStore, "_apply_put_ops", explode)
    with pytest.raises(Boom):
        mem.batch([PutOp(("a",), "k", {"v": 2}, ttl=None)])
    monkeypatch.undo()
    clock.now += 61
    assert mem.get(("a",), "k") is None


async def test_a_sweep_during_a_write_keeps_the_new_value(
    mem: TTLInMemoryStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old value's deadline passes while the new one is being written."""
    mem.put(("a",), "k", {"v": 1}, ttl=1)
    real_apply = TTLInMemoryStore._apply_put_ops

    def apply_after_a_sweep(self: TTLInMemoryStore, put_ops: Any) -> None:
        real_apply(self, put_ops)
        clock.now += 61
        mem._purge(clock())

    monkeypatch.setattr(TTLInMemoryStore, "_apply_put_ops", apply_after_a_sweep)
    await mem.aput(("a",), "k", {"v": 2}, ttl=5)
    assert (await mem.aget(("a",), "k")).value == {"v": 2}
