"""The authorization policy of built-in JWT auth, called the way the server calls a
`langgraph_sdk.Auth` handler: each user owns what they create and sees only that, plus
the system assistants; the store is partitioned by identity."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph_sdk import Auth

from robyn_server.auth.jwt import build_jwt_auth
from robyn_server.config import Settings
from tests.support.jwt_tokens import SECRET


class User:
    """A `BaseUser` as the server builds it from what `authenticate` returns."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.display_name = identity
        self.is_authenticated = True
        self.permissions: list[str] = []


@pytest.fixture(scope="module")
def auth() -> Auth:
    return build_jwt_auth(Settings(auth_jwt_secret=SECRET))


async def authorize(
    auth: Auth, resource: str, action: str, value: dict[str, Any], identity: str = "alice"
) -> Any:
    """The most specific handler for (resource, action), as langgraph_sdk documents the
    lookup: exact, then resource-wide, then global."""
    handlers = (
        auth._handlers.get((resource, action))
        or auth._handlers.get((resource, "*"))
        or auth._global_handlers
    )
    assert len(handlers) == 1
    ctx = Auth.types.AuthContext(
        permissions=[],
        user=User(identity),
        resource=resource,  # type: ignore[arg-type]
        action=action,  # type: ignore[arg-type]
    )
    return await handlers[0](ctx=ctx, value=value)


def test_one_global_handler_covers_every_resource(auth: Auth) -> None:
    assert len(auth._global_handlers) == 1
    assert auth._handlers == {}


@pytest.mark.parametrize("resource", ["threads", "assistants", "crons"])
async def test_creates_are_stamped_with_the_owner(auth: Auth, resource: str) -> None:
    bare: dict[str, Any] = {}
    assert await authorize(auth, resource, "create", bare) == {"owner": "alice"}
    assert bare["metadata"] == {"owner": "alice"}
    null: dict[str, Any] = {"metadata": None}
    await authorize(auth, resource, "create", null)
    assert null["metadata"] == {"owner": "alice"}


async def test_a_client_cannot_create_in_someone_elses_name(auth: Auth) -> None:
    value = {"metadata": {"owner": "bob", "topic": "x"}}
    await authorize(auth, "threads", "create", value)
    assert value["metadata"] == {"owner": "alice", "topic": "x"}


async def test_runs_are_stamped_and_need_an_owned_thread(auth: Auth) -> None:
    run = {"thread_id": "t1", "assistant_id": "a1", "metadata": {"k": 1}}
    assert await authorize(auth, "threads", "create_run", run) == {"owner": "alice"}
    assert run["metadata"] == {"owner": "alice", "k": 1}


async def test_an_update_cannot_give_a_resource_away(auth: Auth) -> None:
    patch = {"thread_id": "t1", "metadata": {"owner": "bob"}}
    assert await authorize(auth, "threads", "update", patch) == {"owner": "alice"}
    assert patch["metadata"] == {"owner": "alice"}
    # An update without metadata (a cancel, say) is left as it is.
    cancel: dict[str, Any] = {"thread_id": "t1", "action": "interrupt"}
    await authorize(auth, "threads", "update", cancel)
    assert cancel == {"thread_id": "t1", "action": "interrupt"}


async def test_metadata_that_is_not_an_object_is_a_422(auth: Auth) -> None:
    with pytest.raises(Auth.exceptions.HTTPException) as caught:
        await authorize(auth, "threads", "create", {"metadata": ["owner", "bob"]})
    assert caught.value.status_code == 422


@pytest.mark.parametrize(
    ("resource", "action"),
    [
        ("threads", "read"),
        ("threads", "search"),
        ("threads", "delete"),
        ("crons", "read"),
        ("crons", "search"),
        ("crons", "update"),
        ("crons", "delete"),
        ("assistants", "update"),
        ("assistants", "delete"),
    ],
)
async def test_everything_else_is_filtered_by_owner(auth: Auth, resource: str, action: str) -> None:
    value: dict[str, Any] = {"limit": 10}
    assert await authorize(auth, resource, action, value, identity="bob") == {"owner": "bob"}


@pytest.mark.parametrize("action", ["read", "search"])
async def test_system_assistants_stay_visible(auth: Auth, action: str) -> None:
    assert await authorize(auth, "assistants", action, {}) == {
        "$or": [{"owner": "alice"}, {"created_by": "system"}]
    }


@pytest.mark.parametrize(
    ("action", "namespace", "scoped"),
    [
        ("put", ("memories",), ("alice", "memories")),
        ("get", ["memories", "x"], ("alice", "memories", "x")),
        ("search", (), ("alice",)),
        ("delete", ("bob", "notes"), ("alice", "bob", "notes")),
        ("list_namespaces", None, ("alice",)),
        # Already the user's own: not prefixed twice.
        ("put", ("alice", "memories"), ("alice", "memories")),
    ],
)
async def test_the_store_is_partitioned_by_identity(
    auth: Auth, action: str, namespace: Any, scoped: tuple[str, ...]
) -> None:
    value = {"namespace": namespace, "key": "k"}
    assert await authorize(auth, "store", action, value) is None
    assert value["namespace"] == scoped


async def test_store_labels_escape_dots(auth: Auth) -> None:
    """Store labels cannot contain "."; an email identity is escaped the way tools_agent
    escapes `{user_id}`, and stays distinct from a look-alike."""
    value: dict[str, Any] = {"namespace": ("notes",)}
    await authorize(auth, "store", "put", value, identity="a.b@x.com")
    assert value["namespace"] == ("a%2Eb@x%2Ecom", "notes")
    other: dict[str, Any] = {"namespace": ("notes",)}
    await authorize(auth, "store", "put", other, identity="a%2Eb@x%2Ecom")
    assert other["namespace"][0] != value["namespace"][0]
