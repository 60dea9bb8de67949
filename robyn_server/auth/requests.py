"""The request as `@auth.authenticate` sees it, and the parameters injected by name.

The HTTP layer builds an `AuthRequest` from the incoming request (this package imports
no web framework). A handler takes any of `request`, `headers`, `authorization`, `path`,
`method`, `path_params`, `query_params`, `body` and `scopes` by name, with the values
LangGraph's server gives them: `headers` maps lower-cased header names to values as
bytes, `authorization` is the Authorization header (None without one), `body` the parsed
JSON body (None when it is not JSON), `scopes` an empty list (no scopes are granted
before authentication), and `request` an `AuthRequest` (`.method`, `.url.path`,
`.headers.get(...)`, `.path_params`, `.query_params`, `await .json()`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from operator import methodcaller
from typing import Any

__all__ = ["PARAMETERS", "AuthRequest", "Headers", "RequestUrl", "injected_parameters"]


class Headers(Mapping[str, str]):
    """Request headers, looked up without regard to case (as Starlette's are)."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = {name.lower(): value for name, value in values.items()}

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name.lower(), default)


@dataclass(frozen=True, slots=True)
class RequestUrl:
    path: str
    query: str = ""

    def __str__(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


class AuthRequest:
    """What an authentication handler may know of a request. `read_json` returns the
    parsed body (None when it is not JSON); `read_body` its raw bytes.

    Built for every authenticated request, yet most handlers read one header: the HTTP
    layer subclasses it to fill `url`, `headers`, `path_params` and `query_params` only
    when first read (the `_load_*` methods), and `header` reads one header without
    building them all."""

    __slots__ = (
        "_headers",
        "_path_params",
        "_query_params",
        "_read_body",
        "_read_json",
        "_url",
        "method",
    )

    def __init__(
        self,
        method: str,
        url: RequestUrl | None = None,
        headers: Headers | None = None,
        path_params: dict[str, str] | None = None,
        query_params: dict[str, str] | None = None,
        read_json: Callable[[], Any] | None = None,
        read_body: Callable[[], bytes] | None = None,
    ) -> None:
        self.method = method
        self._url = url
        self._headers = headers
        self._path_params = path_params
        self._query_params = query_params
        self._read_json = read_json
        self._read_body = read_body

    # What a value left out (None) is; a lazy subclass reads the request instead.
    def _load_url(self) -> RequestUrl:
        return RequestUrl("/")

    def _load_headers(self) -> Headers:
        return Headers({})

    def _load_path_params(self) -> dict[str, str]:
        return {}

    def _load_query_params(self) -> dict[str, str]:
        return {}

    def read_json(self) -> Any:
        return None if self._read_json is None else self._read_json()

    def read_body(self) -> bytes:
        return b"" if self._read_body is None else self._read_body()

    @property
    def url(self) -> RequestUrl:
        if self._url is None:
            self._url = self._load_url()
        return self._url

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = self._load_headers()
        return self._headers

    @property
    def path_params(self) -> dict[str, str]:
        if self._path_params is None:
            self._path_params = self._load_path_params()
        return self._path_params

    @property
    def query_params(self) -> dict[str, str]:
        if self._query_params is None:
            self._query_params = self._load_query_params()
        return self._query_params

    @property
    def path(self) -> str:
        return self.url.path

    def header(self, name: str) -> str | None:
        """One header's value (None without it)."""
        value: str | None = self.headers.get(name)
        return value

    async def json(self) -> Any:
        return self.read_json()

    async def body(self) -> bytes:
        return self.read_body()


PARAMETERS: dict[str, Callable[[AuthRequest], Any]] = {
    "request": lambda r: r,
    "body": lambda r: r.read_json(),
    "path": lambda r: r.url.path,
    "method": lambda r: r.method,
    "path_params": lambda r: dict(r.path_params),
    "query_params": lambda r: dict(r.query_params),
    "headers": lambda r: {k.encode(): v.encode() for k, v in r.headers.items()},
    # A C-level call rather than a lambda: nearly every handler takes this one.
    "authorization": methodcaller("header", "authorization"),
    "scopes": lambda r: [],
}


def injected_parameters(handler: Callable[..., Any]) -> tuple[str, ...]:
    """The names `handler` takes from `PARAMETERS` (all of them with `**kwargs`).

    A parameter it requires that the server cannot give is a `ValueError` naming it,
    raised at start-up rather than on every request."""
    wanted: list[str] = []
    for name, parameter in inspect.signature(handler).parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return tuple(PARAMETERS)
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if name in PARAMETERS:
            wanted.append(name)
        elif parameter.default is inspect.Parameter.empty:
            raise ValueError(
                f"@auth.authenticate handler {getattr(handler, '__name__', handler)!r} takes "
                f"{name!r}, which the server cannot give; it may take {', '.join(PARAMETERS)}"
            )
    return tuple(wanted)
