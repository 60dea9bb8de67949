"""`robyn-server` / `python -m robyn_server`: parse arguments, load graphs, start Robyn.

Order matters here:
1. Our flags are parsed and removed from `sys.argv` *before* Robyn is imported, because
   Robyn parses the command line at import time (`--workers`, `--log-level`, ... would
   otherwise be taken by it).
2. Graphs are loaded before the server starts, so a missing file or variable stops the
   process with a message naming it instead of a half-started server.
3. The port is checked and bound by us, once: Robyn's own check prompts on stdin and
   busy-loops forever under a process manager, and the socket must outlive the server
   process (see 4).
4. This process only supervises (`app/supervisor.py`): it forks the server, which runs
   Robyn on the inherited socket, and forks a new one at once if Robyn aborts.
5. SIGTERM or SIGINT to this process is forwarded once to the server process. There it
   schedules our own shutdown on the event loop (`app.lifecycle.request_shutdown`): runs
   go back to the queue, the pool closes, the server exits, and then so does this
   process, with the server's exit code. Robyn's own shutdown path is not used: its
   handler runs only when KeyboardInterrupt escapes its loop (see `app.lifecycle`).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from dotenv import load_dotenv

from robyn_server import __version__
from robyn_server.app.lifecycle import request_shutdown
from robyn_server.app.supervisor import Supervisor
from robyn_server.auth.loading import load_auth
from robyn_server.auth.policy import AuthPolicy
from robyn_server.config import DEFAULT_CONFIG_FILE, Settings, SettingsError
from robyn_server.engine.cluster import WorkerIdentity
from robyn_server.graphs.registry import GraphLoadError, GraphRegistry, load_registry
from robyn_server.services.context import AppContext, set_context

logger = logging.getLogger("robyn_server")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robyn-server",
        description="Serve LangGraph graphs over the LangGraph Server API.",
    )
    parser.add_argument(
        "--config",
        help="Path to langgraph.json (env LANGGRAPH_CONFIG_FILE; default ./langgraph.json)",
    )
    parser.add_argument("--host", help="Interface to bind (env SERVER_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="Port to bind (env SERVER_PORT, default 2024)")
    parser.add_argument(
        "--workers", type=int, help="HTTP worker threads (env SERVER_WORKERS, default 1)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        help="Server processes sharing the port and the run queue (env SERVER_PROCESSES, "
        "default 1; more than 1 needs DATABASE_URL)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (env LOG_LEVEL)")
    parser.add_argument("--env-file", default=".env", help="Settings file to load (default .env)")
    parser.add_argument("--version", action="version", version=f"robyn-server {__version__}")
    return parser


def port_in_use(host: str, port: int, wait_seconds: float = 1.0) -> bool:
    """True if another socket listens on the port. Probed the way the server binds it,
    with SO_REUSEADDR, so connections of an earlier run still in TIME_WAIT do not count;
    but without SO_REUSEPORT, which would let a second server share the port silently.
    A server that was just killed may hold the port for a moment longer (its process
    is still being torn down), so a busy port is probed again for `wait_seconds`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + wait_seconds
    while True:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
                return False
            except OSError as exc:
                if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                    return False  # let the real bind report anything else
                if exc.errno == errno.EACCES or time.monotonic() >= deadline:
                    return True
        time.sleep(0.05)


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def install_signal_handlers(ctx: AppContext) -> None:
    def handle(signum: int, frame: object) -> None:
        request_shutdown(ctx)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _config_cors_origins(registry: GraphRegistry) -> list[str] | None:
    """`http.cors.allow_origins` from langgraph.json; CORS_ALLOW_ORIGINS wins over it."""
    origins = (registry.http_config().get("cors") or {}).get("allow_origins")
    if origins is None:
        return None
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        fail("http.cors.allow_origins in langgraph.json must be a list of strings", 2)
    return origins


def _load_auth(registry: GraphRegistry, settings: Settings) -> AuthPolicy | None:
    """The auth every request goes through (see `auth.loading.load_auth`), loaded before
    the server starts: a broken auth.py stops it rather than serving data unprotected."""
    try:
        auth = load_auth(registry, settings)
        return AuthPolicy(auth) if auth is not None else None
    except GraphLoadError as exc:
        fail(str(exc), 2)
    except ValueError as exc:
        fail(f"auth: {exc}", 2)


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"robyn-server: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    sys.argv = sys.argv[:1]  # Robyn must not see our flags (see module docstring)

    env_file = Path(args.env_file)
    if env_file.is_file():
        load_dotenv(env_file, override=False)

    try:
        settings = Settings.from_env().with_overrides(
            host=args.host,
            port=args.port,
            workers=args.workers,
            processes=args.processes,
            config_file=Path(args.config) if args.config else None,
            log_level=args.log_level.upper() if args.log_level else None,
        )
    except SettingsError as exc:
        fail(str(exc), 2)

    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    if settings.processes > 1 and not settings.database_url:
        fail(
            f"--processes {settings.processes} needs DATABASE_URL: several processes share "
            "one run queue through PostgreSQL, and in-memory data lives in one process. "
            "Set DATABASE_URL, or run one process.",
            2,
        )

    config_file = settings.config_file
    if config_file is None and not os.environ.get("LANGSERVE_GRAPHS"):
        config_file = Path.cwd() / DEFAULT_CONFIG_FILE
        if not config_file.is_file():
            fail(
                f"no langgraph.json in {Path.cwd()}: run robyn-server in your project's "
                "folder, or pass --config PATH (env LANGGRAPH_CONFIG_FILE), or set "
                "LANGSERVE_GRAPHS",
                2,
            )
    try:
        registry: GraphRegistry = load_registry(config_file)
    except GraphLoadError as exc:
        fail(str(exc), 2)

    auth = _load_auth(registry, settings)

    cors_origins = _config_cors_origins(registry)
    if cors_origins is not None and not os.environ.get("CORS_ALLOW_ORIGINS"):
        settings = settings.with_overrides(cors_allow_origins=cors_origins)

    port = settings.port or free_port(settings.host)
    if port_in_use(settings.host, port):
        fail(
            f"port {port} on {settings.host} is already in use; stop the other server or pass "
            "--port (env SERVER_PORT)"
        )
    settings = settings.with_overrides(port=port)
    # Robyn lets these variables override start()'s arguments; make them agree with ours.
    os.environ["ROBYN_HOST"] = settings.host
    os.environ["ROBYN_PORT"] = str(port)

    # Imported here, after sys.argv is clean, and before the fork so that a restarted
    # server process has nothing left to import.
    from robyn_server.app.factory import create_app
    from robyn_server.http.server import bind_listener, serve_on

    try:
        # One socket per process, all bound with SO_REUSEPORT: the kernel then spreads
        # new connections evenly over the processes (a single shared socket hands most
        # of a burst to whichever process waits in accept() last).
        listeners = [bind_listener(settings.host, port) for _ in range(settings.processes)]
    except OSError as exc:
        fail(f"cannot listen on {settings.host}:{port}: {exc.strerror or exc}")

    def serve(notify_ready: Callable[[], None], worker: WorkerIdentity) -> None:
        ctx = AppContext(
            settings=settings, registry=registry, on_ready=notify_ready, auth=auth, worker=worker
        )
        set_context(ctx)
        app = create_app(ctx)
        install_signal_handlers(ctx)
        serve_on(app, listeners[worker.slot], settings.host, port)

    logger.info("Starting on http://%s:%s (graphs: %s)", settings.host, port, registry.ids())
    code = Supervisor(serve, settings.processes).run()
    # os._exit, not SystemExit: interpreter teardown restores the default signal handlers,
    # and one more SIGTERM from an impatient process manager would then kill us with -15.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
