"""A PostgreSQL cluster of a test's own, which the test may stop and start at will.

Tests that simulate a database outage must never touch the shared server on 5432, which
other tests (and other people) use at the same moment. This starts a throwaway cluster
with `initdb` and `pg_ctl`: in a private temp directory (which also holds its socket),
on a free loopback port, with trust auth for user `postgres`.

initdb refuses to run as root, so under root every command runs as the `postgres` OS
user (`runuser`) and the directory is handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.server import free_port

PG_CTL_WAIT_SECONDS = 60


class PostgresBinariesMissing(RuntimeError):
    pass


def postgres_bindir() -> Path:
    """The directory holding initdb and pg_ctl."""
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if found.returncode == 0:
            candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise PostgresBinariesMissing(
        "initdb/pg_ctl not found (pg_config --bindir, /usr/lib/postgresql)"
    )


class PrivateCluster:
    """One cluster: `start()` initializes it the first time, `stop()` may be called any
    number of times (an outage), `remove()` stops it and deletes every file."""

    def __init__(self) -> None:
        self.bindir = postgres_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="robyn-private-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self.port = free_port()
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.root, 0o700)  # the socket lives here: nobody else may connect
        self._initialized = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_postgres, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=PG_CTL_WAIT_SECONDS + 30,
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            raise RuntimeError(f"{what} failed:\n{result.stdout}\n{result.stderr}\n{log[-3000:]}")

    def start(self) -> None:
        if not self._initialized:
            result = self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",  # a throwaway cluster: durability of its files is moot
            )
            self._check(result, "initdb")
            self._initialized = True
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            str(PG_CTL_WAIT_SECONDS),
            "start",
        )
        self._check(result, "pg_ctl start")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (`immediate`: like a crash, every connection dropped)."""
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", str(PG_CTL_WAIT_SECONDS), "stop"
        )
        self._check(result, f"pg_ctl stop -m {mode}")

    def running(self) -> bool:
        return (
            self._initialized
            and self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0
        )

    def remove(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
