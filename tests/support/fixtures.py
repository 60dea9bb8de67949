"""pytest fixtures for the loopback model and MCP servers; import them into a test module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.mcp_server import McpTestServer
from tests.support.openai_stub import OpenAIStub


@pytest.fixture(scope="session")
def openai_stub() -> Iterator[OpenAIStub]:
    stub = OpenAIStub().start()
    yield stub
    stub.stop()


@pytest.fixture(scope="session")
def mcp_server() -> Iterator[McpTestServer]:
    server = McpTestServer().start()
    yield server
    server.stop()


@pytest.fixture
def model_id() -> str:
    """A model name of this test's own, so its scripted replies are its alone."""
    return f"stub-{uuid.uuid4().hex[:10]}"
