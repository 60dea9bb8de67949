"""What an auth handler's filter may say: malformed ones are refused with a message naming
the part at fault (the server reports a broken auth handler instead of guessing)."""

from __future__ import annotations

from typing import Any

import pytest

from robyn_server.storage.filters import Contains, Equals, MetadataFilter, OneOf


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (["owner", "alice"], "filter must be a dict"),
        ({"owner": {"$ne": "alice"}}, r"unknown operator '\$ne'"),
        ({"$not": {"owner": "alice"}}, r"unknown operator '\$not' at the top level"),
        ({"owner": {"$eq": "a", "$contains": "b"}}, "an operator must be alone"),
        ({"owner": {"$eq": "a", "x": 1}}, "an operator must be alone"),
        ({"$or": {"owner": "alice"}}, r"filter.\$or must be a list of filters"),
        ({"$or": [{"owner": "a"}, "b"]}, r"filter.\$or\[1\] must be a dict"),
        ({1: "alice"}, "keys must be strings"),
    ],
)
def test_malformed_filters_are_refused(where: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MetadataFilter.parse(where)


def test_filters_are_normalised() -> None:
    parsed = MetadataFilter.parse(
        {
            "owner": ("alice",),  # a tuple is the JSON array it would be stored as
            "tags": {"$contains": "x"},
            "$and": [{"level": {"$eq": 1}}],
            "$or": [{"a": 1}, {"b": {"$contains": ["y", "z"]}}],
        }
    )
    kinds = [type(c) for c in parsed.conditions]
    assert kinds == [Equals, Contains, Equals, OneOf]
    owner, tags, level, either = parsed.conditions
    assert isinstance(owner, Equals) and owner.value == ["alice"]
    assert isinstance(tags, Contains) and tags.values == ["x"]
    assert isinstance(level, Equals) and (level.key, level.value) == ("level", 1)
    assert isinstance(either, OneOf) and len(either.filters) == 2
    assert MetadataFilter.parse({}).matches({"anything": 1})
