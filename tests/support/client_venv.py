"""A second virtualenv with the newer protocol clients (a2a-sdk 1.x, mcp 2.x), which
cannot share the test environment with a2a-sdk 0.3 and mcp 1.x.

Built on first use with `uv venv` + `uv pip install` under `.cache/` (gitignored) and
reused while its pins are unchanged, so a clean clone (CI) builds it once. Tests drive
the clients through `protocol_clients_v2.py`, run by that virtualenv's Python.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT

PINS = ["a2a-sdk==1.3.0", "mcp==2.3.0"]
VENV = REPO_ROOT / ".cache" / "protocol-clients-v2"
DRIVER = Path(__file__).with_name("protocol_clients_v2.py")


def _build() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / "pins.txt"
    if python.exists() and stamp.exists() and stamp.read_text() == "\n".join(PINS):
        return python
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in UV
    if uv is None:
        raise RuntimeError("uv is not on PATH")
    shutil.rmtree(VENV, ignore_errors=True)
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    run: dict[str, Any] = {"check": True, "capture_output": True, "env": env, "timeout": 300}
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(VENV)], **run)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), *PINS], **run)
    stamp.write_text("\n".join(PINS))
    return python


def client_python() -> Path:
    """The second virtualenv's Python. If it cannot be built (no network), the test
    skips, unless REQUIRE_POSTGRES is set (CI), where it fails."""
    try:
        return _build()
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        message = f"cannot build the a2a-sdk 1.x / mcp 2.x virtualenv: {exc} {detail!r}"
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)


def drive(python: Path, scenario: str, url: str, **args: Any) -> dict[str, Any]:
    """Run one scenario of the driver; its JSON report."""
    done = subprocess.run(
        [str(python), str(DRIVER), scenario, url, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise AssertionError(f"{scenario} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])
