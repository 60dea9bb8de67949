"""Thread search and count: filters, every sort, paging."""

from __future__ import annotations

from typing import Any

import pytest

from robyn_server.storage.base import Storage
from robyn_server.storage.types import ANONYMOUS, THREAD_SORT_COLUMNS
from tests.support.contract import make_thread, new_id

S = ANONYMOUS


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["thread_id"] for item in items]


async def search_ids(storage: Storage, **kwargs: Any) -> list[str]:
    kwargs.setdefault("limit", 100)
    page = await storage.thread_search(S, **kwargs)
    assert page.next_offset is None
    return sorted(ids(page.items))


async def test_empty(storage: Storage) -> None:
    page = await storage.thread_search(S)
    assert (page.items, page.next_offset) == ([], None)
    assert await storage.thread_count(S) == 0


async def test_ids_filter(storage: Storage) -> None:
    threads = [await make_thread(storage) for _ in range(3)]
    a, b = threads[0]["thread_id"], threads[1]["thread_id"]
    assert await search_ids(storage, ids=[a, b]) == sorted([a, b])
    assert await search_ids(storage, ids=[a.upper(), new_id(), "junk"]) == [a]
    assert await search_ids(storage, ids=["junk"]) == []
    assert await search_ids(storage, ids=[]) == []
    assert await search_ids(storage, ids=None) == sorted(ids(threads))


async def test_metadata_values_and_status_filters(storage: Storage) -> None:
    a = await make_thread(storage, metadata={"user": "u1", "tags": ["x", "y"]})
    b = await make_thread(storage, metadata={"user": "u2", "deep": {"k": 1}})
    c = await make_thread(storage, metadata={"user": "u1"})
    await storage.thread_set_state(S, a["thread_id"], values={"topic": "cats", "n": [1, 2]})
    await storage.thread_set_state(
        S, b["thread_id"], values={"topic": "dogs", "nested": {"q": True}}, status="busy"
    )
    await storage.thread_set_state(S, c["thread_id"], status="error")
    cases: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        ({"metadata": {"user": "u1"}}, [a, c]),
        ({"metadata": {"tags": ["y"]}}, [a]),
        ({"metadata": {"deep": {"k": 1}}}, [b]),
        ({"metadata": {"deep": {"k": 2}}}, []),
        ({"metadata": {}}, [a, b, c]),
        ({"values": {"topic": "cats"}}, [a]),
        ({"values": {"n": [2]}}, [a]),
        ({"values": {"nested": {"q": True}}}, [b]),
        ({"values": {"nested": {"q": 1}}}, []),
        ({"values": {}}, [a, b, c]),
        ({"status": "busy"}, [b]),
        ({"status": "error"}, [c]),
        ({"status": "idle"}, [a]),
        ({"status": "interrupted"}, []),
        ({"metadata": {"user": "u1"}, "status": "idle"}, [a]),
        ({"metadata": {"user": "u2"}, "values": {"topic": "dogs"}, "status": "busy"}, [b]),
        ({"metadata": {"user": "u2"}, "values": {"topic": "cats"}}, []),
    ]
    for filters, expected in cases:
        assert await search_ids(storage, **filters) == sorted(ids(expected)), filters
        assert await storage.thread_count(S, **filters) == len(expected), filters
    assert await search_ids(storage, ids=[a["thread_id"], b["thread_id"]], status="busy") == [
        b["thread_id"]
    ]


@pytest.mark.parametrize("sort_by", THREAD_SORT_COLUMNS)
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
async def test_every_sort(storage: Storage, sort_by: str, sort_order: str) -> None:
    threads = [await make_thread(storage) for _ in range(6)]
    # Distinct orders for each timestamp column, and repeated statuses for tie-breaks.
    for thread, status in zip(
        threads[::-1], ["busy", "idle", "busy", "error", "interrupted", "busy"], strict=True
    ):
        await storage.thread_set_state(S, thread["thread_id"], status=status)
    for thread in threads[1::2]:
        await storage.thread_set_state(S, thread["thread_id"], values={"v": 1})
    current = [await storage.thread_get(S, t["thread_id"]) for t in threads]
    expected = sorted(
        current, key=lambda r: (r[sort_by], r["thread_id"]), reverse=sort_order == "desc"
    )
    page = await storage.thread_search(S, sort_by=sort_by, sort_order=sort_order, limit=100)
    assert ids(page.items) == ids(expected)
    assert page.items == expected


async def test_default_sort_is_updated_at_desc(storage: Storage) -> None:
    threads = [await make_thread(storage) for _ in range(3)]
    await storage.thread_update(S, threads[0]["thread_id"], metadata={"touched": True})
    page = await storage.thread_search(S)
    assert ids(page.items)[0] == threads[0]["thread_id"]
    assert ids(page.items) == [
        threads[0]["thread_id"],
        threads[2]["thread_id"],
        threads[1]["thread_id"],
    ]


async def test_paging(storage: Storage) -> None:
    threads = [await make_thread(storage, metadata={"i": i}) for i in range(7)]
    order = ids(sorted(threads, key=lambda t: (t["created_at"], t["thread_id"])))
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = await storage.thread_search(
            S, sort_by="created_at", sort_order="asc", limit=3, offset=offset
        )
        assert len(page.items) <= 3
        seen += ids(page.items)
        offset = page.next_offset
    assert seen == order
    page = await storage.thread_search(S, sort_by="created_at", sort_order="asc", limit=3, offset=3)
    assert (ids(page.items), page.next_offset) == (order[3:6], 6)
    page = await storage.thread_search(S, sort_by="created_at", sort_order="asc", limit=7)
    assert (ids(page.items), page.next_offset) == (order, None)
    page = await storage.thread_search(S, limit=2, offset=7)
    assert (page.items, page.next_offset) == ([], None)
    assert await storage.thread_count(S) == 7


async def test_rejects_bad_sort_and_paging(storage: Storage) -> None:
    with pytest.raises(ValueError):
        await storage.thread_search(S, sort_by="values")
    with pytest.raises(ValueError):
        await storage.thread_search(S, sort_order="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await storage.thread_search(S, limit=0)
    with pytest.raises(ValueError):
        await storage.thread_search(S, offset=-5)
