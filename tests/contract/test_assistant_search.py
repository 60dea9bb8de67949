"""Assistant search and count: filters, every sort, paging."""

from __future__ import annotations

from typing import Any

import pytest

from robyn_server.storage.base import Storage
from robyn_server.storage.types import ANONYMOUS, ASSISTANT_SORT_COLUMNS
from tests.support.contract import make_assistant

S = ANONYMOUS


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["assistant_id"] for item in items]


async def search_ids(storage: Storage, **kwargs: Any) -> list[str]:
    kwargs.setdefault("limit", 100)
    page = await storage.assistant_search(S, **kwargs)
    assert page.next_offset is None
    return sorted(ids(page.items))


async def test_empty(storage: Storage) -> None:
    page = await storage.assistant_search(S)
    assert page.items == []
    assert page.next_offset is None
    assert await storage.assistant_count(S) == 0


async def test_metadata_containment(storage: Storage) -> None:
    a = await make_assistant(
        storage, metadata={"team": "red", "tags": ["x", "y"], "deep": {"k": {"v": 1}}}
    )
    b = await make_assistant(storage, metadata={"team": "blue", "tags": ["y"], "flag": True})
    c = await make_assistant(storage, metadata={"flag": 1, "n": None})
    cases: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        ({"team": "red"}, [a]),
        ({"tags": ["y"]}, [a, b]),
        ({"tags": ["x", "y"]}, [a]),
        ({"tags": ["y", "x"]}, [a]),
        ({"tags": []}, [a, b]),
        ({"tags": "y"}, []),
        ({"deep": {"k": {}}}, [a]),
        ({"deep": {"k": {"v": 1}}}, [a]),
        ({"deep": {"k": {"v": 2}}}, []),
        ({"flag": True}, [b]),
        ({"flag": 1}, [c]),
        ({"n": None}, [c]),
        ({"team": "red", "flag": True}, []),
        ({"missing": 1}, []),
        ({}, [a, b, c]),
    ]
    for pattern, expected in cases:
        assert await search_ids(storage, metadata=pattern) == sorted(ids(expected)), pattern
        assert await storage.assistant_count(S, metadata=pattern) == len(expected), pattern


async def test_graph_id_is_exact(storage: Storage) -> None:
    a = await make_assistant(storage, graph_id="agent")
    await make_assistant(storage, graph_id="agent2")
    await make_assistant(storage, graph_id="Agent")
    assert await search_ids(storage, graph_id="agent") == [a["assistant_id"]]
    assert await storage.assistant_count(S, graph_id="agent") == 1
    assert await search_ids(storage, graph_id="age") == []


async def test_name_is_a_case_insensitive_substring(storage: Storage) -> None:
    a = await make_assistant(storage, name="Research Helper")
    b = await make_assistant(storage, name="helpdesk")
    c = await make_assistant(storage, name="Writer")
    assert await search_ids(storage, name="HELP") == sorted(ids([a, b]))
    assert await search_ids(storage, name="search h") == [a["assistant_id"]]
    assert await search_ids(storage, name="riter") == [c["assistant_id"]]
    assert await search_ids(storage, name="nothing") == []
    assert await storage.assistant_count(S, name="help") == 2


async def test_name_wildcards_are_literal(storage: Storage) -> None:
    percent = await make_assistant(storage, name="100% done")
    underscore = await make_assistant(storage, name="snake_case")
    backslash = await make_assistant(storage, name="back\\slash")
    plain = await make_assistant(storage, name="snakeXcase 100 done")
    assert await search_ids(storage, name="%") == [percent["assistant_id"]]
    assert await search_ids(storage, name="0% d") == [percent["assistant_id"]]
    assert await search_ids(storage, name="_") == [underscore["assistant_id"]]
    assert await search_ids(storage, name="e_c") == [underscore["assistant_id"]]
    assert await search_ids(storage, name="\\") == [backslash["assistant_id"]]
    assert await search_ids(storage, name="k\\s") == [backslash["assistant_id"]]
    assert await search_ids(storage, name="snake") == sorted(ids([underscore, plain]))


async def test_non_ascii_name_matching(storage: Storage) -> None:
    a = await make_assistant(storage, name="Élan Vital")
    assert await search_ids(storage, name="élan") == [a["assistant_id"]]


async def test_filters_combine(storage: Storage) -> None:
    a = await make_assistant(storage, graph_id="g", name="alpha", metadata={"k": 1})
    await make_assistant(storage, graph_id="g", name="alpha", metadata={"k": 2})
    await make_assistant(storage, graph_id="h", name="alpha", metadata={"k": 1})
    await make_assistant(storage, graph_id="g", name="beta", metadata={"k": 1})
    filters = {"graph_id": "g", "name": "ALP", "metadata": {"k": 1}}
    assert await search_ids(storage, **filters) == [a["assistant_id"]]
    assert await storage.assistant_count(S, **filters) == 1


@pytest.mark.parametrize("sort_by", ASSISTANT_SORT_COLUMNS)
@pytest.mark.parametrize("sort_order", ["asc", "desc"])
async def test_every_sort(storage: Storage, sort_by: str, sort_order: str) -> None:
    # Mixed case and duplicates: code-point order ("B" < "a") and the id tie-break.
    names = ["beta", "Alpha", "alpha", "beta", "Zed", "_x"]
    graphs = ["g2", "g1", "g2", "G", "g1", "g2"]
    created = [
        await make_assistant(storage, name=n, graph_id=g)
        for n, g in zip(names, graphs, strict=True)
    ]
    # Touch some so updated_at order differs from created_at order.
    for record in created[::2]:
        await storage.assistant_update(S, record["assistant_id"], description="touched")
    current = [await storage.assistant_get(S, r["assistant_id"]) for r in created]
    expected = sorted(
        current, key=lambda r: (r[sort_by], r["assistant_id"]), reverse=sort_order == "desc"
    )
    page = await storage.assistant_search(S, sort_by=sort_by, sort_order=sort_order, limit=100)
    assert ids(page.items) == ids(expected)
    assert page.items == expected


async def test_default_sort_is_created_at_desc(storage: Storage) -> None:
    created = [await make_assistant(storage) for _ in range(3)]
    page = await storage.assistant_search(S)
    expected = sorted(created, key=lambda r: (r["created_at"], r["assistant_id"]), reverse=True)
    assert ids(page.items) == ids(expected)


async def test_paging(storage: Storage) -> None:
    created = [await make_assistant(storage, name=f"n{i}") for i in range(5)]
    order = ids(sorted(created, key=lambda r: r["name"]))
    seen: list[str] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = await storage.assistant_search(
            S, sort_by="name", sort_order="asc", limit=2, offset=offset
        )
        seen += ids(page.items)
        offset = page.next_offset
        pages += 1
    assert seen == order
    assert pages == 3

    page = await storage.assistant_search(S, sort_by="name", sort_order="asc", limit=2, offset=2)
    assert (ids(page.items), page.next_offset) == (order[2:4], 4)
    page = await storage.assistant_search(S, sort_by="name", sort_order="asc", limit=5)
    assert (ids(page.items), page.next_offset) == (order, None)
    page = await storage.assistant_search(S, sort_by="name", sort_order="asc", limit=4)
    assert (ids(page.items), page.next_offset) == (order[:4], 4)
    page = await storage.assistant_search(S, sort_by="name", sort_order="asc", limit=3, offset=3)
    assert (ids(page.items), page.next_offset) == (order[3:], None)
    page = await storage.assistant_search(S, limit=3, offset=10)
    assert (page.items, page.next_offset) == ([], None)
    assert await storage.assistant_count(S) == 5


async def test_rejects_bad_sort_and_paging(storage: Storage) -> None:
    with pytest.raises(ValueError):
        await storage.assistant_search(S, sort_by="metadata")
    with pytest.raises(ValueError):
        await storage.assistant_search(S, sort_by="name; DROP TABLE x")
    with pytest.raises(ValueError):
        await storage.assistant_search(S, sort_order="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await storage.assistant_search(S, limit=0)
    with pytest.raises(ValueError):
        await storage.assistant_search(S, offset=-1)
    with pytest.raises(ValueError):
        await storage.assistant_versions(S, "x", limit=0)
