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


class _RobynAuthRequest(AuthRequest):
    """`req` as the auth handler sees it, each part decoded only when the handler reads
    it: most handlers read the Authorization header and nothing else."""

    __slots__ = ("_req",)

    def __init__(self, req: ApiRequest) -> None:
        raw = req.raw
        # AuthRequest's fields, all left to be loaded (its __init__, inlined: this runs
        # on every request).
        self.method = raw.method
        self._url = self._headers = self._path_params = self._query_params = None
        self._read_json = self._read_body = None
        self._req = req
        if not raw.query_params.empty():
            # Decoded now, as before any handler: a malformed query is a 422 whatever
            # the handler reads (and ApiRequest keeps it for the route).
            req.query  # noqa: B018

    def _load_url(self) -> RequestUrl:
        return RequestUrl(self._req.raw.url.path, urlencode(self.query_params))

    def _load_headers(self) -> Headers:
        return Headers(self._req.raw.headers.to_dict())

    def _load_path_params(self) -> dict[str, str]:
        return dict(self._req.path_params)

    def _load_query_params(self) -> dict[str, str]:
        return {name: values[-1] for name, values in self._req.query.items() if values}

    def header(self, name: str) -> str | None:
        if self._headers is not None:
            return super().header(name)
        # What `headers` would hold, without building it: Robyn joins repeated headers.
        values = self._req.raw.headers.get_all(name)  # type: ignore[attr-defined]  # not in the stub
        if not values:
            return None
        return values[0] if len(values) == 1 else ", ".join(values)

    def read_json(self) -> object:
        try:
            return self._req.json()
        except ValidationFailed:
            return None  # not JSON: the route answers for it, after authentication

    def read_body(self) -> bytes:
        body = self._req.raw.body
        return body.encode() if isinstance(body, str) else bytes(body or b"")


def auth_request(req: ApiRequest) -> AuthRequest:
    """The request as the auth handler sees it (see `robyn_server.auth.requests`)."""
    return _RobynAuthRequest(req)


class RequestAuth:
    """How wrapped routes learn their caller under `policy`."""

    def __init__(self, policy: AuthPolicy) -> None:
        self.policy = policy

    async def authenticated(self, req: ApiRequest) -> Caller:
        """The authenticated caller; the handler's 401 (or its own answer) otherwise."""
        return Caller(await self.policy.authenticate(_RobynAuthRequest(req)), self.policy)

    async def public(self, req: ApiRequest) -> Caller:
        """A public path's caller: nobody, refused any scope of the data."""
        return Caller(None, self.policy)

    def for_route(self, public: bool) -> Identify:
        return self.public if public else self.authenticated
