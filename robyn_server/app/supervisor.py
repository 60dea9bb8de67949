"""Keeps one server process serving: a parent that holds the socket and forks the server.

Robyn 0.88 aborts the whole process on some malformed requests (a bad chunk size, a body
cut short: docs/robyn-payload-panic.md), and nothing in Python can catch that. So
`robyn-server` does not serve itself. It imports everything, binds the listening socket
once, then forks a child that runs Robyn on that socket, and forks a new child the
moment one dies without being asked to:

- The parent keeps the socket open, so connections that arrive while a new child starts
  wait in the kernel's backlog instead of being refused.
- Everything is imported before the fork, so a new child is serving within a fraction
  of a second (opening the database pool and recovering runs is most of it).
- A child that dies takes its in-flight runs with it, exactly like `kill -9`: on
  PostgreSQL the new child re-queues them at start (attempt + 1); in memory the state
  dies with the process, as on any crash.
- A child that fails *before* it is ready (bad database URL, a graph that will not load)
  is not restarted: the parent exits with its code, as a plain process would.
- SIGTERM/SIGINT to the parent go to the child once, which shuts down cleanly (runs back
  to the queue, pool closed); the parent then exits with the child's code. The child
  dies with the parent (PR_SET_PDEATHSIG), so killing the parent never leaves a server
  behind.
With `--processes N` (Postgres only) the parent keeps N children on the one socket, each
its own run-queue worker; the kernel spreads connections among them. A child that dies
is replaced the same way, and its worker id is handed to the new child, which re-queues
the dead one's runs at once instead of waiting for its lease to run out.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from robyn_server.engine.cluster import WorkerIdentity

logger = logging.getLogger("robyn_server.app.supervisor")

PR_SET_PDEATHSIG = 1
# A child that dies this soon after becoming ready is crashing in a loop (a bug at start,
# or a client sending poison as fast as we restart): wait a little before the next one.
QUICK_CRASH_SECONDS = 1.0
MAX_RESTART_DELAY_SECONDS = 5.0
# How often the parent looks for children that became ready or died.
POLL_SECONDS = 0.2


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return f"exit code {os.WEXITSTATUS(status)}"


def _exit_code(status: int) -> int:
    # The shell's convention for a death by signal.
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


@dataclass
class _Child:
    slot: int
    identity: WorkerIdentity
    ready_fd: int | None
    ready_at: float | None = None
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    """Runs `serve(notify_ready, identity)` in `processes` forked children, replacing any
    that dies, until told to stop.

    `serve` never returns normally (Robyn exits the process); it calls `notify_ready()`
    once the server can take requests.
    """

    def __init__(
        self, serve: Callable[[Callable[[], None], WorkerIdentity], Any], processes: int = 1
    ) -> None:
        self.serve = serve
        self.processes = processes
        self.children: dict[int, _Child] = {}
        self.stopping = False
        # Stopping because of SIGTERM/SIGINT (not because a child failed to start).
        self._stop_requested = False
        self.restarts = 0
        self._delay = 0.0

    def run(self) -> int:
        """Serve until stopped; returns the exit code for the whole command."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for slot in range(self.processes):
            self._fork(slot, WorkerIdentity(slot=slot))
        code = 0
        while self.children:
            self._read_ready()
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                continue
            child = self.children.pop(pid, None)
            if child is None:
                continue
            if child.ready_fd is not None:
                os.close(child.ready_fd)
            if self.stopping:
                # A child stopped while still starting was interrupted by this very stop
                # (SIGTERM right after start): not a failure of the command.
                if child.ready_at is not None or not self._stop_requested:
                    code = code or _exit_code(status)
                continue
            if child.ready_at is None:
                # It never served: restarting would only repeat the same failure.
                logger.error("Server process failed while starting (%s)", _describe(status))
                self._stop_all()
                code = _exit_code(status) or 1
                continue
            self._replace(child, status)
        return code

    def _replace(self, child: _Child, status: int) -> None:
        lived = time.monotonic() - (child.ready_at or child.started)
        self._delay = min(max(self._delay * 2, 0.1), MAX_RESTART_DELAY_SECONDS)
        if lived > QUICK_CRASH_SECONDS:
            self._delay = 0.0
        self.restarts += 1
        logger.error(
            "Server process died (%s) after %.1f s; starting a new one%s "
            "(restart %d; runs it was executing go back to the queue)",
            _describe(status),
            lived,
            f" in {self._delay:.1f} s" if self._delay else "",
            self.restarts,
        )
        if self._delay:
            time.sleep(self._delay)
            if self.stopping:
                return
        identity = WorkerIdentity(dead_workers=(child.identity.worker_id,), slot=child.slot)
        self._fork(child.slot, identity)

    def _read_ready(self) -> None:
        """Wait a little for children to say they are ready (one byte; end of file when
        one dies first)."""
        waiting = {c.ready_fd: c for c in self.children.values() if c.ready_fd is not None}
        if not waiting:
            time.sleep(POLL_SECONDS)
            return
        try:
            readable, _, _ = select.select(list(waiting), [], [], POLL_SECONDS)
        except InterruptedError:  # pragma: no cover - PEP 475 retries select
            return
        for fd in readable:
            child = waiting[fd]
            if os.read(fd, 1):
                child.ready_at = time.monotonic()
            os.close(fd)
            child.ready_fd = None

    def _fork(self, slot: int, identity: WorkerIdentity) -> None:
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; exercised by the e2e tests
            os.close(read_fd)
            for other in self.children.values():
                if other.ready_fd is not None:
                    os.close(other.ready_fd)
            self._child_main(parent, write_fd, identity)
        os.close(write_fd)
        self.children[pid] = _Child(slot, identity, read_fd)
        if self.stopping:  # a signal landed between the fork and the line above
            os.kill(pid, signal.SIGTERM)

    def _stop_all(self) -> None:
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _child_main(self, parent: int, ready_fd: int, identity: WorkerIdentity) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _die_with_parent(parent)

        def notify_ready() -> None:
            try:
                os.write(ready_fd, b"r")
                os.close(ready_fd)
            except OSError:
                pass

        code = 1
        try:
            self.serve(notify_ready, identity)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            logger.exception("Server process failed")
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _on_signal(self, signum: int, frame: object) -> None:
        # Forward once: each child shuts down cleanly on the first signal, and repeats
        # only risk interrupting that (actix reacts to SIGTERM as well).
        if self.stopping:
            return
        self._stop_requested = True
        self._stop_all()
