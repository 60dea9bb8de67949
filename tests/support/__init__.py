"""Everything the test suites share, and nothing else: suites import from here, never
from each other, from a test module or from a conftest (tests/unit/test_test_layout.py).

paths        where the repo and the fixture files are
server       the real server in a subprocess (ServerProcess), on either backend
graphs       the fixture graphs: ids, inputs, answers, message shapes, in-process loading
runs         streaming a run through the SDK (`stream`), polling runs and threads
sse          the SSE parser, and raw streamed requests
races        storage races that prove their callers overlapped
http_races   the same through the real server
contract     records for the storage contract suites
stream_graphs  graphs for the in-process stream-mode tests
postgres     the test Postgres server; persistence: what opening persistence tests share
agent_e2e    the tools agent through the server; openai_stub, mcp_server, loopback,
             fixtures: loopback model and MCP servers; private_postgres: a cluster of
             a test's own
"""
