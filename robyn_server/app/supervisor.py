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
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("robyn_server.app.supervisor")

PR_SET_PDEATHSIG = 1
# A child that dies this soon after becoming ready is crashing in a loop (a bug at start,
# or a client sending poison as fast as we restart): wait a little before the next one.
QUICK_CRASH_SECONDS = 1.0
MAX_RESTART_DELAY_SECONDS = 5.0


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


class Supervisor:
    """Runs `serve(notify_ready)` in a forked child, again and again, until told to stop.

    `serve` never returns normally (Robyn exits the process); it calls `notify_ready()`
    once the server can take requests.
    """

    def __init__(self, serve: Callable[[Callable[[], None]], Any]) -> None:
        self.serve = serve
        self.child: int | None = None
        self.stopping = False
        self.restarts = 0

    def run(self) -> int:
        """Serve until stopped; returns the exit code for the whole command."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        delay = 0.0
        while True:
            ready_at, status = self._run_child()
            if self.stopping:
                return _exit_code(status)
            if ready_at is None:
                # It never served: restarting would only repeat the same failure.
                logger.error("Server process failed while starting (%s)", _describe(status))
                return _exit_code(status) or 1
            lived = time.monotonic() - ready_at
            delay = min(max(delay * 2, 0.1), MAX_RESTART_DELAY_SECONDS)
            if lived > QUICK_CRASH_SECONDS:
                delay = 0.0
            self.restarts += 1
            logger.error(
                "Server process died (%s) after %.1f s; starting a new one%s "
                "(restart %d; runs it was executing go back to the queue)",
                _describe(status),
                lived,
                f" in {delay:.1f} s" if delay else "",
                self.restarts,
            )
            if delay:
                time.sleep(delay)
                if self.stopping:
                    return 0

    def _run_child(self) -> tuple[float | None, int]:
        """Fork one child and wait for it; (when it became ready, its wait status)."""
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; exercised by the e2e tests
            os.close(read_fd)
            self._child_main(parent, write_fd)
        os.close(write_fd)
        self.child = pid
        if self.stopping:  # a signal landed between the fork and the line above
            os.kill(pid, signal.SIGTERM)
        ready_at: float | None = None
        try:
            # One byte when the child is ready; end of file when it dies (or before).
            if os.read(read_fd, 1):
                ready_at = time.monotonic()
            _, status = os.waitpid(pid, 0)
        finally:
            os.close(read_fd)
            self.child = None
        return ready_at, status

    def _child_main(self, parent: int, ready_fd: int) -> None:
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
            self.serve(notify_ready)
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
        # Forward once: the child shuts down cleanly on the first signal, and repeats
        # only risk interrupting that (actix reacts to SIGTERM as well).
        if self.stopping:
            return
        self.stopping = True
        if self.child is not None:
            try:
                os.kill(self.child, signal.SIGTERM)
            except ProcessLookupError:
                pass
