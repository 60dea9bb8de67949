"""Run webhooks: which URLs a run may name, what is POSTed, and delivery that never breaks.

Delivery tests use a real HTTP receiver on a free loopback port, with a policy that allows
private addresses (as WEBHOOK_ALLOW_PRIVATE=true does in development).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from langchain_core.messages import AIMessage

from robyn_server.config import Settings
from robyn_server.engine import webhooks
from robyn_server.engine.webhooks import (
    WebhookConfigError,
    WebhookPolicy,
    deliver,
    webhook_payload,
    webhooks_config,
)
from robyn_server.errors import ValidationFailed
from robyn_server.graphs.loading import LanggraphConfig
from robyn_server.graphs.registry import GraphRegistry

PUBLIC_IP = "93.184.216.34"


async def resolves_public(host: str, port: int) -> list[str]:
    return [PUBLIC_IP]


def policy(raw: dict | None = None, allow_private: bool = False, **kwargs) -> WebhookPolicy:
    built = WebhookPolicy.from_sources(raw, allow_private, **kwargs)
    return dataclasses.replace(built, resolve=resolves_public)


async def refused(p: WebhookPolicy, url: str) -> str:
    with pytest.raises(ValidationFailed) as info:
        await p.validate(url)
    assert info.value.status_code == 422
    return info.value.detail


# -- policy -----------------------------------------------------------------------------


async def test_localhost_is_refused_with_the_reference_detail() -> None:
    assert await refused(policy(), "http://localhost:8000/hook") == (
        "Webhook host blocked: localhost address"
    )
    assert await refused(policy(), "http://LocalHost./hook") == (
        "Webhook host blocked: localhost address"
    )
    assert await refused(policy(), "http://api.localhost/hook") == (
        "Webhook host blocked: localhost address"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "loopback address"),
        ("http://127.8.9.10:9000/hook", "loopback address"),
        ("http://[::1]/hook", "loopback address"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback address"),
        ("http://10.1.2.3/hook", "private address"),
        ("http://172.16.5.4/hook", "private address"),
        ("http://192.168.0.10/hook", "private address"),
        ("http://[fd00::1]/hook", "private address"),
        ("http://169.254.169.254/latest/meta-data", "link-local address"),
        ("http://[fe80::1]/hook", "link-local address"),
        ("http://0.0.0.0/hook", "wildcard address"),
        ("http://100.64.0.1/hook", "non-public address"),
    ],
)
async def test_non_public_ip_literals_are_refused(url: str, reason: str) -> None:
    assert await refused(policy(), url) == f"Webhook host blocked: {reason}"


async def test_public_ip_literal_is_allowed_without_a_lookup() -> None:
    async def must_not_resolve(host: str, port: int) -> list[str]:
        raise AssertionError("an IP literal needs no lookup")

    p = dataclasses.replace(policy(), resolve=must_not_resolve)
    await p.validate(f"https://{PUBLIC_IP}/hook")
    await p.validate("https://[2606:4700:4700::1111]/hook")


async def test_hostnames_are_resolved_with_the_system_resolver() -> None:
    # 2130706433 is 127.0.0.1 in decimal: only resolution, not the text, reveals that.
    real = WebhookPolicy.from_sources(None, False)
    detail = await refused(real, "http://2130706433/hook")
    assert detail == "Webhook host blocked: 2130706433 resolves to a loopback address"


async def test_a_host_with_any_private_address_is_refused() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return [PUBLIC_IP, "10.0.0.7"]

    p = dataclasses.replace(policy(), resolve=mixed)
    assert await refused(p, "https://hooks.example.com/x") == (
        "Webhook host blocked: hooks.example.com resolves to a private address"
    )
    await policy().validate("https://hooks.example.com/x")


async def test_an_unresolvable_host_is_refused() -> None:
    async def fails(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    p = dataclasses.replace(policy(), resolve=fails)
    assert await refused(p, "https://nowhere.invalid/x") == (
        "Webhook host could not be resolved: nowhere.invalid"
    )


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("/threads/hook", "Webhook URL must be absolute: relative URLs are not allowed"),
        ("hooks.example.com/x", "Webhook URL must start with http:// or https://"),
        ("ftp://hooks.example.com/x", "Webhook URL must start with http:// or https://"),
        ("javascript:alert(1)", "Webhook URL must start with http:// or https://"),
        ("//hooks.example.com/x", "Webhook URL must start with http:// or https://"),
        ("http:///x", "Webhook URL has no host"),
        ("http://hooks.example.com:99999/x", "Webhook URL is not a valid URL"),
        (
            "http://hooks.example.com/a b",
            "Webhook URL must not contain whitespace or control characters",
        ),
        ("", "Webhook URL must be a non-empty string"),
    ],
)
async def test_malformed_and_relative_urls_are_refused(url: str, detail: str) -> None:
    assert await refused(policy(), url) == detail


async def test_relative_urls_go_to_the_server_itself_only_when_enabled() -> None:
    enabled = {"url": {"disable_loopback": False}}
    p = policy(enabled, loopback_base_url="http://127.0.0.1:2024/")
    assert await p.target("/webhooks/done?x=1") == "http://127.0.0.1:2024/webhooks/done?x=1"
    assert await refused(policy(enabled), "/webhooks/done") == (
        "Relative webhook URLs need the server's own address"
    )
    explicit = policy({"url": {"disable_loopback": True}}, loopback_base_url="http://h:1")
    assert "relative URLs are not allowed" in await refused(explicit, "/webhooks/done")


async def test_require_https() -> None:
    p = policy({"url": {"require_https": True}})
    assert await refused(p, "http://hooks.example.com/x") == "Webhook URL must use https"
    await p.validate("https://hooks.example.com/x")


async def test_allowed_domains_exact_and_wildcard_subdomains() -> None:
    p = policy({"url": {"allowed_domains": ["hooks.example.com", "*.corp.example"]}})
    await p.validate("https://hooks.example.com/x")
    await p.validate("https://HOOKS.example.com./x")
    await p.validate("https://a.b.corp.example/x")
    assert await refused(p, "https://corp.example/x") == (
        "Webhook host not allowed: corp.example is not in allowed_domains"
    )
    assert "not in allowed_domains" in await refused(p, "https://evilcorp.example/x")
    assert "not in allowed_domains" in await refused(p, "https://other.example.com/x")


async def test_allowed_domains_do_not_lift_the_address_checks() -> None:
    p = policy({"url": {"allowed_domains": ["localhost", "127.0.0.1"]}})
    assert await refused(p, "http://localhost/x") == "Webhook host blocked: localhost address"
    assert await refused(p, "http://127.0.0.1/x") == "Webhook host blocked: loopback address"


async def test_allowed_ports_with_scheme_default_ports() -> None:
    p = policy({"url": {"allowed_ports": [443, 8443]}})
    await p.validate("https://hooks.example.com/x")
    await p.validate("https://hooks.example.com:8443/x")
    assert await refused(p, "http://hooks.example.com/x") == "Webhook port not allowed: 80"
    assert await refused(p, "https://hooks.example.com:22/x") == "Webhook port not allowed: 22"


async def test_max_url_length() -> None:
    p = policy({"url": {"max_url_length": 40}})
    await p.validate("https://hooks.example.com/short")
    assert await refused(p, "https://hooks.example.com/" + "x" * 40) == (
        "Webhook URL is longer than 40 characters"
    )


async def test_allow_private_lets_local_and_private_hosts_through() -> None:
    p = policy(allow_private=True)
    for url in (
        "http://localhost:8000/hook",
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/",
    ):
        await p.validate(url)
    # It lifts the address checks only, not the rest of the policy.
    assert await refused(policy(allow_private=True), "/relative") == (
        "Webhook URL must be absolute: relative URLs are not allowed"
    )
    strict = policy({"url": {"require_https": True}}, allow_private=True)
    assert await refused(strict, "http://localhost/x") == "Webhook URL must use https"


def test_webhook_allow_private_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE", raising=False)
    assert Settings.from_env().webhook_allow_private is False
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "true")
    assert Settings.from_env().webhook_allow_private is True


# -- configuration ----------------------------------------------------------------------


def test_header_templates_read_prefixed_environment_variables() -> None:
    raw = {
        "headers": {
            "Authorization": "Bearer ${{ env.LG_WEBHOOK_TOKEN }}",
            "X-Pair": "${LG_WEBHOOK_A}-${{env.LG_WEBHOOK_B}}",
            "X-Static": "plain",
        }
    }
    environ = {"LG_WEBHOOK_TOKEN": "t0k", "LG_WEBHOOK_A": "a", "LG_WEBHOOK_B": "b"}
    p = WebhookPolicy.from_sources(raw, False, environ=environ)
    assert dict(p.headers) == {"Authorization": "Bearer t0k", "X-Pair": "a-b", "X-Static": "plain"}
    assert "t0k" not in repr(p)


@pytest.mark.parametrize(
    ("raw", "environ", "message"),
    [
        ({"headers": {"X": "${{ env.DATABASE_URL }}"}}, {"DATABASE_URL": "pg"}, "does not start"),
        ({"headers": {"X": "${LG_WEBHOOK_MISSING}"}}, {}, "LG_WEBHOOK_MISSING is not set"),
        ({"headers": {"X": "${LG_WEBHOOK_NL}"}}, {"LG_WEBHOOK_NL": "a\r\nB: c"}, "single line"),
        ({"headers": ["X"]}, {}, "webhooks.headers must be an object"),
        ({"url": {"allowed_ports": ["443"]}}, {}, "allowed_ports"),
        ({"url": {"allowed_domains": "example.com"}}, {}, "allowed_domains"),
        ({"url": {"allowed_domains": ["a.*.com"]}}, {}, "leading '*.'"),
        ({"url": {"require_https": "yes"}}, {}, "require_https must be true or false"),
        ({"url": []}, {}, "webhooks.url must be an object"),
    ],
)
def test_bad_configuration_fails_at_start_up(raw: dict, environ: dict, message: str) -> None:
    with pytest.raises(WebhookConfigError, match=message.replace("*", r"\*")):
        WebhookPolicy.from_sources(raw, False, environ=environ)


def test_custom_env_prefix() -> None:
    raw = {"env_prefix": "HOOK_", "headers": {"X": "${{ env.HOOK_KEY }}"}}
    p = WebhookPolicy.from_sources(raw, False, environ={"HOOK_KEY": "k"})
    assert p.headers["X"] == "k"


def test_webhooks_config_from_langgraph_json_or_environment() -> None:
    def registry(raw: dict) -> GraphRegistry:
        return GraphRegistry({}, LanggraphConfig(config_dir=Path("."), graphs={}, raw=raw))

    section = {"url": {"require_https": True}}
    assert webhooks_config(registry({"webhooks": section}), environ={}) == section
    from_env = {"LANGGRAPH_WEBHOOKS": json.dumps(section)}
    assert webhooks_config(registry({}), environ=from_env) == section
    assert webhooks_config(registry({}), environ={}) is None
    with pytest.raises(WebhookConfigError, match="LANGGRAPH_WEBHOOKS"):
        webhooks_config(registry({}), environ={"LANGGRAPH_WEBHOOKS": "{nope"})


# -- payload ----------------------------------------------------------------------------

RUN = {
    "run_id": UUID("01a20017-0011-7232-8571-05aa44754219"),
    "thread_id": UUID("01a20017-0001-7350-b1a0-a6bb923964aa"),
    "assistant_id": "fe096781-5601-53d2-b2f6-0d3403f7e9ca",
    "metadata": {"user": "u1"},
    "status": "running",
    "kwargs": {"input": {"messages": []}, "webhook": "https://hooks.example.com/x"},
    "multitask_strategy": "enqueue",
    "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "updated_at": datetime(2026, 1, 2, 3, 4, 6, 1, tzinfo=UTC),
}


def test_payload_is_the_run_plus_how_it_ended() -> None:
    started = datetime(2026, 1, 2, 3, 4, 5, 700000, tzinfo=UTC)
    ended = datetime(2026, 1, 2, 3, 4, 9, 1, tzinfo=UTC)
    values = {"messages": [AIMessage(content="done", id="m1")], "count": 1}
    payload = webhook_payload(
        RUN, status="success", started_at=started, ended_at=ended, values=values, error=None
    )
    assert json.loads(json.dumps(payload)) == payload  # plain JSON values only
    assert payload["run_id"] == "01a20017-0011-7232-8571-05aa44754219"
    assert payload["thread_id"] == "01a20017-0001-7350-b1a0-a6bb923964aa"
    assert payload["kwargs"] == RUN["kwargs"]
    assert payload["created_at"] == "2026-01-02T03:04:05.678901+00:00"
    assert payload["status"] == "success"
    assert payload["run_started_at"] == "2026-01-02T03:04:05.700000+00:00"
    assert payload["run_ended_at"] == "2026-01-02T03:04:09.000001+00:00"
    assert datetime.fromisoformat(payload["webhook_sent_at"]) >= ended
    assert payload["values"]["count"] == 1
    assert payload["values"]["messages"][0]["content"] == "done"
    assert payload["values"]["messages"][0]["type"] == "ai"
    assert "error" not in payload


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValueError("kaboom"), {"error": "ValueError", "message": "kaboom"}),
        ({"error": "TimeoutError", "message": "run timed out"}, None),
        ("something broke", {"error": "Error", "message": "something broke"}),
    ],
)
def test_payload_error(error: object, expected: dict | None) -> None:
    payload = webhook_payload(
        RUN, status="error", started_at=None, ended_at=None, values=None, error=error
    )
    assert payload["error"] == (expected or error)
    assert payload["values"] is None
    assert payload["run_started_at"] is None


# -- delivery ---------------------------------------------------------------------------


@dataclasses.dataclass
class Received:
    request_line: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A tiny HTTP/1.1 server answering each request with the next scripted status."""

    def __init__(self, statuses: list[int], extra: str = "", hang: bool = False) -> None:
        self.statuses = statuses
        self.extra = extra
        self.hang = hang
        self.received: list[Received] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            lines = head.split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, v in (line.split(":", 1) for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(lines[0], headers, body))
            if self.hang:
                await reader.read()  # until the client gives up and disconnects
                return
            status = self.statuses[min(len(self.received), len(self.statuses)) - 1]
            writer.write(
                f"HTTP/1.1 {status} Scripted\r\nContent-Length: 2\r\n"
                f"Connection: close\r\n{self.extra}\r\nok".encode()
            )
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def make_receiver() -> AsyncIterator:
    started: list[Receiver] = []

    async def make(statuses: list[int], **kwargs) -> Receiver:
        receiver = await Receiver(statuses, **kwargs).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        await receiver.stop()
    await webhooks.close(grace=0)


LOCAL = WebhookPolicy.from_sources(
    {"headers": {"Authorization": "Bearer ${{ env.LG_WEBHOOK_T }}"}},
    True,
    environ={"LG_WEBHOOK_T": "s3cret"},
)


def sample_payload() -> dict:
    return webhook_payload(
        RUN, status="success", started_at=None, ended_at=None, values={"n": 1}, error=None
    )


async def test_delivers_the_payload_as_json_with_configured_headers(make_receiver) -> None:
    receiver = await make_receiver([200])
    payload = sample_payload()
    ok = await deliver(receiver.url + "/hook?k=v", payload, headers={"X-Extra": "1"}, policy=LOCAL)
    assert ok is True
    [request] = receiver.received
    assert request.request_line == "POST /hook?k=v HTTP/1.1"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["x-extra"] == "1"
    body = json.loads(request.body)
    assert body["run_id"] == payload["run_id"]
    assert body["values"] == {"n": 1}
    assert body["webhook_sent_at"] >= payload["webhook_sent_at"]


async def test_retries_after_a_server_error(make_receiver) -> None:
    receiver = await make_receiver([500, 503, 204])
    assert await deliver(receiver.url, sample_payload(), policy=LOCAL, backoff=0.01) is True
    assert len(receiver.received) == 3


async def test_gives_up_after_the_retries_without_raising(make_receiver, caplog) -> None:
    receiver = await make_receiver([500])
    caplog.set_level(logging.WARNING, logger="robyn_server.webhooks")
    url = receiver.url + "/hook?token=querysecret"
    ok = await deliver(url, sample_payload(), policy=LOCAL, attempts=3, backoff=0.01)
    assert ok is False
    assert len(receiver.received) == 3
    assert "failed after 3 attempts: HTTP 500" in caplog.text
    assert "s3cret" not in caplog.text
    assert "querysecret" not in caplog.text


async def test_client_errors_are_not_retried(make_receiver) -> None:
    receiver = await make_receiver([404])
    assert await deliver(receiver.url, sample_payload(), policy=LOCAL, backoff=0.01) is False
    assert len(receiver.received) == 1


async def test_redirects_are_not_followed(make_receiver) -> None:
    target = await make_receiver([200])
    receiver = await make_receiver([302], extra=f"Location: {target.url}/elsewhere\r\n")
    assert await deliver(receiver.url, sample_payload(), policy=LOCAL) is False
    assert target.received == []


async def test_an_unreachable_receiver_is_retried_then_given_up(caplog) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    caplog.set_level(logging.WARNING, logger="robyn_server.webhooks")
    ok = await deliver(f"http://127.0.0.1:{port}/", sample_payload(), backoff=0.01)
    assert ok is False
    assert "failed after 3 attempts: ConnectError" in caplog.text


async def test_a_url_the_policy_refuses_is_not_called(make_receiver, caplog) -> None:
    receiver = await make_receiver([200])
    caplog.set_level(logging.WARNING, logger="robyn_server.webhooks")
    strict = WebhookPolicy.from_sources(None, False)
    assert await deliver(receiver.url, sample_payload(), policy=strict) is False
    assert receiver.received == []
    assert "Webhook host blocked: loopback address" in caplog.text


async def test_shutdown_waits_for_deliveries_under_way(make_receiver) -> None:
    receiver = await make_receiver([200])
    task = webhooks.spawn(receiver.url, sample_payload(), policy=LOCAL)
    await webhooks.close()
    assert task.result() is True
    assert len(receiver.received) == 1


async def test_shutdown_cancels_deliveries_that_outlast_the_grace(make_receiver) -> None:
    receiver = await make_receiver([200], hang=True)
    task = webhooks.spawn(receiver.url, sample_payload(), policy=LOCAL)
    await asyncio.sleep(0.2)
    await webhooks.close(grace=0.1)
    assert task.cancelled()


async def test_a_receiver_that_never_answers_times_out(make_receiver, caplog) -> None:
    receiver = await make_receiver([200], hang=True)
    caplog.set_level(logging.WARNING, logger="robyn_server.webhooks")
    ok = await deliver(
        receiver.url, sample_payload(), policy=LOCAL, request_timeout=0.2, backoff=0.01, attempts=2
    )
    assert ok is False
    assert len(receiver.received) == 2
    assert "failed after 2 attempts: TimeoutError" in caplog.text


async def test_relative_urls_are_delivered_to_the_servers_own_address(make_receiver) -> None:
    receiver = await make_receiver([200])
    own = WebhookPolicy.from_sources(
        {"url": {"disable_loopback": False}}, False, loopback_base_url=receiver.url
    )
    assert await deliver("/internal/done", sample_payload(), policy=own) is True
    assert receiver.received[0].request_line == "POST /internal/done HTTP/1.1"
