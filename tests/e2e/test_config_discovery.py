"""Without --config, robyn-server reads ./langgraph.json from its working directory, as
`langgraph dev` does, and says so plainly when there is none (an installed wheel has no
project folder of its own to fall back on)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

GRAPHS = Path(__file__).resolve().parents[1] / "fixtures" / "graphs"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command(port: int) -> list[str]:
    return [sys.executable, "-m", "robyn_server", "--port", str(port), "--env-file", "none"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LANGSERVE_GRAPHS")}
    env.pop("LANGGRAPH_CONFIG_FILE", None)
    return env


def test_no_langgraph_json_in_the_working_directory_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        _command(_free_port()), cwd=tmp_path, env=_env(), capture_output=True, timeout=60
    )
    assert done.returncode == 2
    stderr = done.stderr.decode()
    assert f"no langgraph.json in {tmp_path}" in stderr
    assert "--config" in stderr


def test_langgraph_json_in_the_working_directory_is_served(tmp_path: Path) -> None:
    config = {"graphs": {"only_here": f"{GRAPHS / 'agent.py'}:graph"}}
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    port = _free_port()
    proc = subprocess.Popen(
        _command(port),
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        found = httpx.post(f"{url}/assistants/search", json={"limit": 100}, timeout=10).json()
        assert [a["graph_id"] for a in found] == ["only_here"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
