"""Processes and the database for the benchmarks: pinned servers and throwaway databases."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import loadgen  # noqa: E402

HOST = "127.0.0.1"
CONFIG = ROOT / "tests" / "fixtures" / "langgraph.json"
RESULTS = BENCH / "results"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Environment variables that would change the server's configuration under test.
SERVER_ENV_PREFIXES = (
    "DATABASE_",
    "SERVER_",
    "LANGGRAPH_",
    "LANGSERVE_",
    "CORS_",
    "HTTP_MAX_",
    "LOG_LEVEL",
    "ROBYN_",
)


def run_cli(main: Any) -> None:
    """Run a benchmark's main coroutine; SIGTERM and Ctrl-C stop it through its own
    clean-up (servers stopped, scratch databases dropped), exit code 130."""

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        raise SystemExit(asyncio.run(main))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def backend_parser(doc: str, quick: str) -> Any:
    """The options every backend benchmark takes: --quick, --backends, --no-pin."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--backends", default="memory,postgres", help="memory,postgres")
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    return parser


def add_quiet_wait(parser: Any, measurements: int) -> None:
    """--quiet-wait S: before each of the `measurements` measurements, wait up to S
    seconds for other processes to go (nearly) idle."""
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        metavar="S",
        help="wait up to S s for other processes to go idle before each "
        f"measurement, {measurements}*S in all (default 10, 3 with --quick; 0 disables)",
    )


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def save_results(stem: str, report: str, payload: dict[str, Any]) -> None:
    """Print the report; write it to results/STEM.md, every figure to results/STEM.json."""
    import json

    print()
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.md").write_text(report)
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    log(f"wrote {RESULTS / (stem + '.md')} and .json")


class Pinning:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and (os.cpu_count() or 1) >= 2 and shutil.which("taskset")
        self.server_cpu, self.client_cpu = 1, 0

    def server_prefix(self) -> list[str]:
        return ["taskset", "-c", str(self.server_cpu)] if self.enabled else []

    def client_prefix(self) -> list[str]:
        return ["taskset", "-c", str(self.client_cpu)] if self.enabled else []

    def pin_self(self) -> None:
        if self.enabled:
            os.sched_setaffinity(0, {self.client_cpu})

    def describe(self) -> str:
        if not self.enabled:
            return "not pinned"
        return (
            f"server on CPU {self.server_cpu} (taskset -c {self.server_cpu}), load generator "
            f"on CPU {self.client_cpu}; PostgreSQL not pinned"
        )


class Server:
    """A server subprocess: started, polled on /ok until ready, stopped with SIGTERM."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], port: int, cwd: Path = ROOT
    ) -> None:
        self.name, self.argv, self.env, self.port, self.cwd = name, argv, env, port, cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)

    def _spawn(self) -> None:
        log(f"starting {self.name} on port {self.port}")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def start(self, ready_within: float = 90.0) -> None:
        self._spawn()
        assert self.proc is not None
        deadline = time.monotonic() + ready_within
        raw = loadgen.encode_request("GET", "/ok", f"{HOST}:{self.port}")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}\n{self.tail()}")
            conn = loadgen.Connection(HOST, self.port)
            try:
                status, _ = await conn.send(raw)
                if status == 200:
                    return
            except (OSError, asyncio.IncompleteReadError, loadgen.HttpError):
                pass
            finally:
                await conn.close()
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {ready_within:.0f}s\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM for 15 s; killing it")
                proc.kill()
                proc.wait(timeout=5)
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_env(database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_ENV_PREFIXES)}
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def our_server(name: str, pin: Pinning, database_url: str | None, config: Path = CONFIG) -> Server:
    port = free_port()
    argv = [
        *pin.server_prefix(),
        sys.executable,
        "-m",
        "robyn_server",
        "--config",
        str(config),
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "WARNING",
        "--env-file",
        str(BENCH / ".no-such-env-file"),
    ]
    return Server(name, argv, server_env(database_url), port)


def bare_server(pin: Pinning) -> Server:
    port = free_port()
    argv = [*pin.server_prefix(), sys.executable, str(BENCH / "bare_robyn.py"), str(port)]
    return Server("bare-robyn", argv, server_env(None), port)


def pg_admin(statement: Any) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def pg_version() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return row[0] if row else None
    except psycopg.OperationalError:
        return None


def vacuum_analyze(name: str) -> None:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(database_url(name), autocommit=True, connect_timeout=5) as conn:
        conn.execute("VACUUM ANALYZE")
    log(f"  VACUUM ANALYZE in {time.perf_counter() - started:.1f}s")


def database_url(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def create_database(prefix: str = "bench_") -> str:
    from psycopg import sql

    name = f"{prefix}{secrets.token_hex(4)}"
    pg_admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"created database {name}")
    return name


def drop_database(name: str) -> None:
    from psycopg import sql

    pg_admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    log(f"dropped database {name}")


def wrk_version() -> str | None:
    path = shutil.which("wrk")
    if path is None:
        return None
    out = subprocess.run([path, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "unknown"
