"""`Caller`: who a service call acts for, and the scopes the auth handlers grant them.

Routes make one per request (`routes._common.caller_for`); services ask it for the
`Scope` of each storage call, naming the resource, the action and the value being acted
on, as LangGraph's auth handlers expect them (`caller.scope("threads", "read",
{"thread_id": ...})`). Without auth every scope is unrestricted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from robyn_server.auth.policy import UNAUTHORIZED, AuthPolicy
from robyn_server.auth.users import AuthUser
from robyn_server.errors import Unauthorized
from robyn_server.storage.types import ANONYMOUS, Scope

__all__ = ["ANONYMOUS_CALLER", "Caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    """`policy=None`: the server has no auth, or the server itself acts (a sweeper, a
    public agent card); every scope is unrestricted. With a policy, `user` is who was
    authenticated; a caller with a policy and no user (a request on a public path) is
    refused any scope, so a data route left public by mistake serves nothing."""

    user: AuthUser | None = None
    policy: AuthPolicy | None = None

    @property
    def identity(self) -> str | None:
        return None if self.user is None else self.user.identity

    async def scope(self, resource: str, action: str, value: dict[str, Any]) -> Scope:
        """The scope of one storage call: what the handler for `(resource, action)` lets
        this caller reach. The handler may change `value` (stamping metadata on a create,
        rewriting a store namespace): the service reads it back afterwards."""
        if self.policy is None:
            return ANONYMOUS
        if self.user is None:
            raise Unauthorized(UNAUTHORIZED)
        where = await self.policy.authorize(self.user, resource, action, value)
        return ANONYMOUS if where is None else Scope(metadata_filter=where)

    async def allow(self, resource: str, action: str, value: dict[str, Any]) -> None:
        """Run the handler for an action that reads or writes no filtered rows (the
        store): it may refuse, or change `value`."""
        await self.scope(resource, action, value)

    def run_keys(self) -> dict[str, Any]:
        """The auth keys of a run's `config["configurable"]`, as the reference sets them."""
        user = self.user
        return {
            "langgraph_auth_user": user,
            "langgraph_auth_user_id": "" if user is None else user.identity,
            "langgraph_auth_permissions": [] if user is None else user.permissions,
        }


ANONYMOUS_CALLER = Caller()
