"""Authentication at the HTTP boundary: a routed request proves who sends it before its
handler runs, except on the public paths (liveness, /info, the API document, A2A agent
cards), so no route can forget to check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from robyn_server.auth.caller import Caller
from robyn_server.auth.policy import AuthPolicy
from robyn_server.auth.requests import AuthRequest, Headers, RequestUrl
from robyn_server.errors import ValidationFailed
from robyn_server.http.requests import ApiRequest

# What a wrapped route calls first: the caller of the request (401 if it has none).
Identify = Callable[[ApiRequest], Awaitable[Caller]]


def auth_request(req: ApiRequest) -> AuthRequest:
    """The request as the auth handler sees it (see `robyn_server.auth.requests`)."""
    query = {name: values[-1] for name, values in req.query.items() if values}

    def read_json() -> object:
        try:
            return req.json()
        except ValidationFailed:
            return None  # not JSON: the route answers for it, after authentication

    def read_body() -> bytes:
        body = req.raw.body
        return body.encode() if isinstance(body, str) else bytes(body or b"")

    return AuthRequest(
        method=req.raw.method,
        url=RequestUrl(req.raw.url.path, urlencode(query)),
        headers=Headers(req.raw.headers.to_dict()),
        path_params=dict(req.path_params),
        query_params=query,
        read_json=read_json,
        read_body=read_body,
    )


class RequestAuth:
    """How wrapped routes learn their caller under `policy`."""

    def __init__(self, policy: AuthPolicy) -> None:
        self.policy = policy

    async def authenticated(self, req: ApiRequest) -> Caller:
        """The authenticated caller; the handler's 401 (or its own answer) otherwise."""
        return Caller(await self.policy.authenticate(auth_request(req)), self.policy)

    async def public(self, req: ApiRequest) -> Caller:
        """A public path's caller: nobody, refused any scope of the data."""
        return Caller(None, self.policy)

    def for_route(self, public: bool) -> Identify:
        return self.public if public else self.authenticated
