"""The baseline: a bare Robyn app with one async JSON handler, started like our server.

    python bench/bare_robyn.py PORT

Same Robyn version, log level WARNING, one process, one worker, `_check_port=False`,
`sys.argv` cleaned before Robyn is imported (Robyn parses the command line at import
time), and SIGTERM turned into KeyboardInterrupt so that the benchmark can stop it.
"""

from __future__ import annotations

import logging
import signal
import sys


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    port = int(sys.argv[1])
    sys.argv = sys.argv[:1]

    # As the server under test does for `--log-level WARNING` (before Robyn's own
    # basicConfig, which is then a no-op).
    logging.basicConfig(level=logging.WARNING)
    from robyn import Request, Robyn

    app = Robyn(__file__)
    app.config.disable_openapi = True
    app.config.workers = 1
    app.config.processes = 1

    @app.get("/ok")
    async def ok(request: Request) -> dict:
        return {"ok": True}

    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    app.start(host="127.0.0.1", port=port, _check_port=False)


if __name__ == "__main__":
    main()
