"""The real server in a subprocess on a free port, the way users run it, on either
backend."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.paths import FIXTURE_CONFIG, REPO_ROOT

SERVER_SETTINGS = frozenset(
    {
        "DATABASE_URL",
        "DATABASE_URI",
        "DATABASE_FALLBACK_TO_MEMORY",
        "DATABASE_PROBE_TIMEOUT",
        "LANGSERVE_GRAPHS",
        "LANGGRAPH_CONFIG_FILE",
        "SERVER_HOST",
        "SERVER_PORT",
        "SERVER_WORKERS",
        "SERVER_PROCESSES",
        "HTTP_MAX_REQUEST_BODY_BYTES",
        "CORS_ALLOW_ORIGINS",
        "ROBYN_HOST",
        "ROBYN_PORT",
        "LANGGRAPH_AES_KEY",
        "LANGGRAPH_AES_FALLBACK_KEYS",
        "AUTH_JWT_SECRET",
        "AUTH_JWT_JWKS_URL",
        "AUTH_JWT_ALGORITHMS",
        "AUTH_JWT_AUDIENCE",
        "AUTH_JWT_ISSUER",
        "AUTH_JWT_LEEWAY_SECONDS",
        "AUTH_JWT_IDENTITY_CLAIM",
        "AUTH_JWT_PERMISSIONS_CLAIM",
        "AUTH_JWT_JWKS_CACHE_SECONDS",
    }
)
NO_ENV_FILE = REPO_ROOT / "tests" / "support" / "no-such.env"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`python -m robyn_server` on loopback, with its output captured to a log file."""

    def __init__(
        self,
        *,
        config: Path | None = FIXTURE_CONFIG,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        processes: int = 1,
        extra_args: list[str] | None = None,
    ) -> None:
        self.config = config
        # `--processes`: what a test may rely on that is per process (the open-stream
        # cap) holds this many times over.
        self.processes = processes
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Only what the test chooses may configure the server: no stray settings from the
        # developer's shell (and no .env file, see `command`).
        self.env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
        self.env.update({"LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.env.update(env or {})
        self.extra_args = extra_args or []
        self.log = tempfile.NamedTemporaryFile(prefix="robyn-server-", suffix=".log", delete=False)
        if not os.environ.get("KEEP_SERVER_LOGS"):
            # Removed when the test run ends; failing tests already show the log's tail.
            atexit.register(Path(self.log.name).unlink, missing_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "robyn_server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--env-file",
            str(NO_ENV_FILE),
        ]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        if self.processes > 1:
            cmd += ["--processes", str(self.processes)]
        return cmd + self.extra_args

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def spawn(self) -> ServerProcess:
        """Start the process without waiting for it to become healthy."""
        self.proc = subprocess.Popen(
            self.command,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        return self

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode} during start-up:\n{self.output()}"
                )
            try:
                # /health answers 503 until the startup handler has opened persistence.
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become healthy in {timeout}s:\n{self.output()}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for a spawned process to exit by itself; kill it and raise if it does not."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def run_to_exit(self, timeout: float = 30.0) -> int:
        """Run a server that is expected to refuse to start; return its exit code."""
        return self.spawn().wait_exit(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError(f"server ignored signal {sig}:\n{self.output()}") from None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


# The `params` of a fixture that serves each backend; the Postgres one carries the
# `postgres` marker (skipped loudly without a server, failed under REQUIRE_POSTGRES=1).
BACKENDS = ["memory", pytest.param("postgres", marks=pytest.mark.postgres)]


# E2E_SERVER_PROCESSES=N runs the shared Postgres servers as `--processes N`, so the
# whole suite checks that any request may land on any process (.ci/run does this too).
E2E_SERVER_PROCESSES = int(os.environ.get("E2E_SERVER_PROCESSES") or 1)


def serve_backend(request: pytest.FixtureRequest, **options: Any) -> Iterator[ServerProcess]:
    """Run a server on the backend named by `request.param` for a fixture's lifetime;
    Postgres servers get a throwaway database of their own."""
    database_url = None
    if request.param == "postgres":
        factory: Callable[[], str] = request.getfixturevalue("database_factory")
        database_url = factory()
        options.setdefault("processes", E2E_SERVER_PROCESSES)
    proc = ServerProcess(database_url=database_url, **options)
    proc.backend = request.param  # type: ignore[attr-defined]
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


async def checkpoint_counts(server: ServerProcess, thread_id: str) -> dict[str, int] | None:
    """Checkpoints per namespace of a thread, read from Postgres (None in memory mode)."""
    url = server.env.get("DATABASE_URL")
    if not url:
        return None
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT checkpoint_ns, count(*) FROM checkpoints WHERE thread_id = %s "
            "GROUP BY checkpoint_ns",
            (thread_id,),
        )
        return {ns: n for ns, n in await cur.fetchall()}
