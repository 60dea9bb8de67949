"""In-process cost of auth per request: the wrapped route endpoints of POST /threads and
GET /threads/{id} called with real Robyn `Request` objects (in-memory storage, no HTTP),
with auth off, the bench's custom auth (graphs/bench_auth.py) and built-in JWT (HS256).

    uv run python bench/profile_auth.py [--n 1500] [--repeat 10] [--profile off|custom|jwt]

Prints µs per request (the mean of create and get) for each mode and what auth adds;
`--profile MODE` also prints the cProfile of that mode's loop. This leaves out Robyn's
own HTTP work, which auth does not change, so it shows what auth costs in Python.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ARGS = sys.argv[1:]
sys.argv = sys.argv[:1]  # Robyn parses the command line when imported

import jwt  # noqa: E402
import orjson  # noqa: E402
from robyn.robyn import Headers, QueryParams, Request, Url  # noqa: E402

from robyn_server.app.persistence import open_persistence  # noqa: E402
from robyn_server.auth.loading import load_auth  # noqa: E402
from robyn_server.auth.policy import AuthPolicy  # noqa: E402
from robyn_server.config import Settings  # noqa: E402
from robyn_server.graphs.registry import load_registry  # noqa: E402
from robyn_server.http.auth import RequestAuth  # noqa: E402
from robyn_server.http.routing import wrap  # noqa: E402
from robyn_server.routes import ROUTE_TABLES  # noqa: E402
from robyn_server.services.context import AppContext, set_context  # noqa: E402

JWT_SECRET = "bench-secret-of-at-least-thirty-two-bytes"
CONFIGS = {"off": "langgraph.json", "custom": "langgraph_auth.json", "jwt": "langgraph.json"}


def token(mode: str, user: int) -> str | None:
    if mode == "custom":
        return f"token-user-{user}"
    if mode == "jwt":
        claims = {"sub": f"user-{user}", "exp": int(time.time()) + 3600}
        return jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    return None


def request(method: str, path: str, params: dict[str, str], body: bytes, auth: str | None) -> Any:
    headers = {
        "host": "127.0.0.1:23000",
        "accept": "*/*",
        "accept-encoding": "gzip, deflate",
        "connection": "keep-alive",
        "user-agent": "python-httpx/0.28.1",
    }
    if body:
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body))
    if auth is not None:
        headers["authorization"] = f"Bearer {auth}"
    url = Url("http", "127.0.0.1:23000", path)
    return Request(
        QueryParams(), Headers(headers), params, body, method, url, {}, {}, None, "127.0.0.1"
    )


def endpoint(method: str, path: str, identify: Any) -> Any:
    for table in ROUTE_TABLES:
        for info in table.routes:
            if info.method == method and info.path == path:
                return wrap(info.handler, 1 << 20, None, None, identify)
    raise LookupError(path)


async def setup(mode: str) -> tuple[Any, Any, AppContext]:
    env = {"AUTH_JWT_SECRET": JWT_SECRET} if mode == "jwt" else {}
    os.environ.pop("AUTH_JWT_SECRET", None)
    os.environ.update(env)
    settings = Settings.from_env()
    registry = load_registry(BENCH / "graphs" / CONFIGS[mode])
    auth = load_auth(registry, settings)
    policy = AuthPolicy(auth) if auth is not None else None
    ctx = AppContext(settings=settings, registry=registry, auth=policy)
    ctx.persistence = await open_persistence(None)
    set_context(ctx)
    identify = None
    if policy is not None:
        identify = RequestAuth(policy).for_route(False)
    create = endpoint("POST", "/threads", identify)
    return create, endpoint("GET", "/threads/:thread_id", identify), ctx


async def loop(mode: str, n: int, create: Any, get: Any, ctx: AppContext) -> float:
    set_context(ctx)
    tokens = [token(mode, user) for user in range(32)]
    body = b'{"metadata":{"bench":1}}'
    start = time.process_time()
    for i in range(n):
        tok = tokens[i % 32]
        created = await create(request("POST", "/threads", {}, body, tok))
        thread_id = orjson.loads(created.description)["thread_id"]
        got = await get(request("GET", f"/threads/{thread_id}", {"thread_id": thread_id}, b"", tok))
        assert got.status_code == 200, got.description
    return (time.process_time() - start) / (2 * n) * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--profile", choices=sorted(CONFIGS))
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(ARGS)
    setups = {mode: await setup(mode) for mode in CONFIGS}
    samples: dict[str, list[float]] = {mode: [] for mode in CONFIGS}
    for mode in CONFIGS:
        await loop(mode, 500, *setups[mode])  # warm up
    # Alternating rounds, so that a noisy moment hits every mode; the best round counts.
    for _ in range(args.repeat):
        for mode in CONFIGS:
            samples[mode].append(await loop(mode, args.n, *setups[mode]))
    results = {mode: min(values) for mode, values in samples.items()}
    for mode, best in results.items():
        print(f"{mode:7s} {best:7.1f} µs CPU/request", flush=True)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        await loop(args.profile, args.n, *setups[args.profile])
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats("tottime")
        stats.print_stats(40)
    for mode in ("custom", "jwt"):
        extra = results[mode] - results["off"]
        print(f"{mode}: +{extra:.1f} µs/request (+{100 * extra / results['off']:.0f}%)")


if __name__ == "__main__":
    asyncio.run(main())
