"""How a `langgraph_sdk.Auth`'s handlers are run: which handler decides, what its answers
mean, and the user it produces (the end-to-end tests watch the same through a server)."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import orjson
import pytest
from langgraph_sdk import Auth

from robyn_server.auth.caller import ANONYMOUS_CALLER, Caller
from robyn_server.auth.policy import AuthHandlerError, AuthPolicy
from robyn_server.auth.requests import AuthRequest, Headers, RequestUrl
from robyn_server.auth.users import AuthUser, user_from
from robyn_server.errors import AuthRejected, Forbidden, Unauthorized
from robyn_server.storage.filters import Equals
from robyn_server.storage.types import ANONYMOUS

ALICE = user_from({"identity": "alice", "permissions": ["p"]})


def request(authorization: str | None = None) -> AuthRequest:
    headers = {"authorization": authorization} if authorization else {}
    return AuthRequest("GET", RequestUrl("/threads"), Headers(headers))


def auth_with(**handlers: Any) -> Auth:
    auth = Auth()

    @auth.authenticate
    async def authenticate(authorization: str | None) -> str:
        return "alice"

    for key, fn in handlers.items():
        resource, _, action = key.partition("__")
        if key == "on":
            auth.on(fn)
        elif action:
            auth.on(resources=resource, actions=action)(fn)
        else:
            auth.on(resources=resource)(fn)
    return auth


def named(answer: Any) -> Any:
    async def handler(ctx: Auth.types.AuthContext, value: dict) -> Any:
        value["seen_by"] = answer
        value["ctx"] = (ctx.resource, ctx.action, ctx.user.identity, list(ctx.permissions))
        return None

    return handler


async def test_the_most_specific_handler_decides() -> None:
    auth = auth_with(
        on=named("global"),
        threads=named("threads"),
        threads__read=named("threads.read"),
        **{"*__search": named("any.search")},
    )
    policy = AuthPolicy(auth)
    cases = {
        ("threads", "read"): "threads.read",
        ("threads", "update"): "threads",
        ("assistants", "search"): "any.search",
        ("crons", "delete"): "global",
    }
    for (resource, action), expected in cases.items():
        value: dict[str, Any] = {}
        assert await policy.authorize(ALICE, resource, action, value) is None
        assert value["seen_by"] == expected
        assert value["ctx"] == (resource, action, "alice", ["p"])


async def test_without_any_handler_everything_is_allowed() -> None:
    policy = AuthPolicy(auth_with())
    assert await policy.authorize(ALICE, "threads", "delete", {}) is None


def returning(result: Any) -> Any:
    async def handler(ctx: Auth.types.AuthContext, value: dict) -> Any:
        return result

    return handler


@pytest.mark.parametrize("result", [None, True, {}])
async def test_none_true_or_an_empty_filter_allow_everything(result: Any) -> None:
    policy = AuthPolicy(auth_with(on=returning(result)))
    assert await policy.authorize(ALICE, "threads", "read", {}) is None
    assert await Caller(ALICE, policy).scope("threads", "read", {}) is ANONYMOUS


async def test_false_is_a_403_and_a_filter_limits_the_scope() -> None:
    policy = AuthPolicy(auth_with(threads=returning(False), on=returning({"owner": "alice"})))
    with pytest.raises(Forbidden):
        await policy.authorize(ALICE, "threads", "read", {})
    scope = await Caller(ALICE, policy).scope("crons", "read", {})
    assert scope.metadata_filter is not None
    [condition] = scope.metadata_filter.conditions
    assert isinstance(condition, Equals) and (condition.key, condition.value) == ("owner", "alice")


@pytest.mark.parametrize(
    ("handlers", "resource"),
    [
        ({"on": returning("yes")}, "threads"),  # neither a bool nor a filter
        ({"on": returning({"owner": {"$ne": "x"}})}, "threads"),  # an unknown operator
    ],
)
async def test_a_broken_handler_is_a_server_error_never_an_allow(
    handlers: dict[str, Any], resource: str
) -> None:
    policy = AuthPolicy(auth_with(**handlers))
    with pytest.raises(AuthHandlerError):
        await policy.authorize(ALICE, resource, "read", {})


async def test_a_filter_for_the_store_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    """Store items have no metadata to filter: a (global) handler's filter cannot apply,
    and the namespace it may rewrite is what scopes the store."""
    policy = AuthPolicy(auth_with(on=returning({"owner": "alice"})))
    with caplog.at_level("WARNING", logger="robyn_server.auth"):
        assert await policy.authorize(ALICE, "store", "put", {}) is None
        assert await policy.authorize(ALICE, "store", "get", {}) is None
    assert caplog.text.count("is ignored") == 1


async def test_handler_exceptions() -> None:
    async def crash(ctx: Auth.types.AuthContext, value: dict) -> None:
        raise KeyError("boom")

    async def teapot(ctx: Auth.types.AuthContext, value: dict) -> None:
        raise Auth.exceptions.HTTPException(status_code=418, detail="no", headers={"x": "1"})

    policy = AuthPolicy(auth_with(threads=crash, crons=teapot))
    with pytest.raises(AuthHandlerError):
        await policy.authorize(ALICE, "threads", "read", {})
    with pytest.raises(AuthRejected) as rejected:
        await policy.authorize(ALICE, "crons", "read", {})
    assert (rejected.value.status_code, rejected.value.detail) == (418, "no")
    assert rejected.value.headers == {"x": "1"}


async def test_a_caller_on_a_public_path_gets_no_scope_and_anonymous_gets_all() -> None:
    policy = AuthPolicy(auth_with())
    with pytest.raises(Unauthorized):
        await Caller(None, policy).scope("threads", "read", {})
    assert await ANONYMOUS_CALLER.scope("threads", "read", {}) is ANONYMOUS
    assert ANONYMOUS_CALLER.run_keys() == {
        "langgraph_auth_user": None,
        "langgraph_auth_user_id": "",
        "langgraph_auth_permissions": [],
    }


def test_authenticate_must_exist_and_take_only_what_the_server_gives() -> None:
    with pytest.raises(ValueError, match=r"no @auth\.authenticate handler"):
        AuthPolicy(Auth())
    auth = Auth()

    @auth.authenticate
    async def authenticate(authorization: str, tenant: str) -> str:
        return "x"

    with pytest.raises(ValueError, match="takes 'tenant'"):
        AuthPolicy(auth)


async def test_a_synchronous_authenticate_and_its_keyword_arguments() -> None:
    auth = Auth()

    @auth.authenticate
    def authenticate(**params: Any) -> dict:  # type: ignore[type-var]
        return {"identity": params["authorization"], "seen": sorted(params)}

    user = await AuthPolicy(auth).authenticate(request("abc"))
    assert user.identity == "abc"
    assert user["seen"] == sorted(
        [
            "request",
            "body",
            "path",
            "method",
            "path_params",
            "query_params",
            "headers",
            "authorization",
            "scopes",
        ]
    )


class Obj:
    identity = "olga"
    permissions = ("a", "b")

    def hello(self) -> str:
        return "hi"


@pytest.mark.parametrize(
    ("result", "identity", "permissions", "display_name"),
    [
        ("ann", "ann", [], "ann"),
        ({"identity": "bo", "permissions": ["x"], "display_name": "Bo"}, "bo", ["x"], "Bo"),
        (Obj(), "olga", ["a", "b"], "olga"),
    ],
)
def test_every_form_of_user(
    result: Any, identity: str, permissions: list[str], display_name: str
) -> None:
    user = user_from(result)
    assert (user.identity, user.permissions, user.display_name) == (
        identity,
        permissions,
        display_name,
    )
    assert user.is_authenticated and isinstance(user, Auth.types.BaseUser)
    assert user["identity"] == identity


@pytest.mark.parametrize("result", [None, 42, {"name": "x"}, {"identity": ""}, {"identity": 3}])
def test_what_is_not_a_user(result: Any) -> None:
    with pytest.raises(TypeError):
        user_from(result)


def test_a_user_travels_as_json_and_keeps_its_objects_methods() -> None:
    user = user_from(Obj())
    assert user.hello() == "hi"  # the handler's object still answers
    extra = user_from({"identity": "x", "token": "t"})
    assert extra.token == "t"
    assert orjson.loads(orjson.dumps(extra))["token"] == "t"
    assert copy.deepcopy(user) == user and copy.deepcopy(user).hello() == "hi"
    assert pickle.loads(pickle.dumps(extra)) == extra
    assert isinstance(AuthUser({"identity": "y"}), Auth.types.BaseUser)
