"""Run-completion webhooks: the payload, and delivering it without ever hurting the engine.

A run's `webhook` is checked (`WebhookPolicy.validate`) when the run is created, so the
client hears about a refused URL as a 422 instead of never hearing back. `deliver` checks
it again just before sending, because what a hostname resolves to can change in between.
Delivery happens after the run has finished and can only log: nothing in it may fail, or
hold up, the run engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from robyn_server.engine.secrets import redact_run_user
from robyn_server.engine.webhook_policy import WebhookConfigError, WebhookPolicy, webhooks_config
from robyn_server.errors import ValidationFailed
from robyn_server.serialization import dumps, to_jsonable

__all__ = [
    "WebhookConfigError",
    "WebhookPolicy",
    "close",
    "deliver",
    "spawn",
    "webhook_payload",
    "webhooks_config",
]

logger = logging.getLogger("robyn_server.webhooks")

DELIVERY_TIMEOUT_SECONDS = 10.0
DELIVERY_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.5
# How long shutdown waits for deliveries already under way before cancelling them.
SHUTDOWN_GRACE_SECONDS = 5.0
USER_AGENT = "robyn-langgraph-server-webhook"


# -- payload ------------------------------------------------------------------------------


def webhook_payload(
    run: Mapping[str, Any],
    *,
    status: str,
    started_at: datetime | None,
    ended_at: datetime | None,
    values: Any,
    error: BaseException | Mapping[str, Any] | str | None,
) -> dict[str, Any]:
    """The JSON body POSTed when a run finishes: the run plus how it ended."""
    payload: dict[str, Any] = {
        **redact_run_user(dict(run)),
        "status": status,
        "run_started_at": started_at,
        "run_ended_at": ended_at,
        "webhook_sent_at": datetime.now(UTC),
        "values": values,
    }
    if error is not None:
        payload["error"] = _error_body(error)
    return to_jsonable(payload)


def _error_body(error: BaseException | Mapping[str, Any] | str) -> dict[str, str]:
    if isinstance(error, BaseException):
        return {"error": type(error).__name__, "message": str(error)}
    if isinstance(error, Mapping):
        return {
            "error": str(error.get("error") or "Error"),
            "message": str(error.get("message", "")),
        }
    return {"error": "Error", "message": str(error)}


# -- delivery -----------------------------------------------------------------------------

_client: httpx.AsyncClient | None = None
_client_loop: asyncio.AbstractEventLoop | None = None
_pending: set[asyncio.Task[bool]] = set()


def _shared_client() -> httpx.AsyncClient:
    """One connection pool for all deliveries, bound to the loop that first needs it."""
    global _client, _client_loop
    loop = asyncio.get_running_loop()
    if _client is None or _client.is_closed or _client_loop is not loop:
        # No redirects: a redirect could bounce an approved URL to an internal one.
        # No proxies from the environment: the policy checked the destination itself.
        _client = httpx.AsyncClient(
            follow_redirects=False, trust_env=False, timeout=DELIVERY_TIMEOUT_SECONDS
        )
        _client_loop = loop
    return _client


def _loggable(url: str) -> str:
    """The URL without credentials or query string, which often carry tokens."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme:
        return parts.path
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


async def deliver(
    url: str,
    payload: dict[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    policy: WebhookPolicy | None = None,
    attempts: int = DELIVERY_ATTEMPTS,
    request_timeout: float = DELIVERY_TIMEOUT_SECONDS,
    backoff: float = RETRY_BACKOFF_SECONDS,
) -> bool:
    """POST `payload` to `url`; True once it was accepted (2xx). Never raises.

    With a policy the URL is checked again (and relative URLs resolved) and the policy's
    configured headers are sent; `headers` are added on top. Connection errors, timeouts,
    429 and 5xx are retried with exponential backoff; other answers are final.
    """
    try:
        return await _deliver(url, payload, headers, policy, attempts, request_timeout, backoff)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("Webhook to %s failed unexpectedly", _loggable(url))
        return False


async def _deliver(
    url: str,
    payload: dict[str, Any],
    headers: Mapping[str, str] | None,
    policy: WebhookPolicy | None,
    attempts: int,
    request_timeout: float,
    backoff: float,
) -> bool:
    target = url
    send_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if policy is not None:
        try:
            target = await policy.target(url)
        except ValidationFailed as exc:
            logger.warning("Webhook to %s not sent: %s", _loggable(url), exc.detail)
            return False
        send_headers.update(policy.headers)
    send_headers.update(headers or {})
    client = _shared_client()
    attempts = max(1, attempts)
    problem = "not attempted"
    for attempt in range(1, attempts + 1):
        body = payload
        if "webhook_sent_at" in payload:
            body = {**payload, "webhook_sent_at": to_jsonable(datetime.now(UTC))}
        try:
            # httpx's timeout bounds each phase; this bounds the whole attempt, so a
            # receiver that trickles its answer cannot hold a delivery open for long.
            async with asyncio.timeout(request_timeout):
                # Streamed so the receiver's response body is never read into memory.
                async with client.stream(
                    "POST", target, content=dumps(body), headers=send_headers
                ) as response:
                    status = response.status_code
        except httpx.UnsupportedProtocol as exc:
            logger.warning("Webhook to %s not sent: %s", _loggable(target), exc)
            return False
        except (httpx.TransportError, TimeoutError) as exc:
            problem = type(exc).__name__
        else:
            if 200 <= status < 300:
                return True
            problem = f"HTTP {status}"
            if status != 429 and status < 500:
                logger.warning("Webhook to %s refused: %s", _loggable(target), problem)
                return False
        if attempt < attempts:
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
    logger.warning(
        "Webhook to %s failed after %d attempts: %s", _loggable(target), attempts, problem
    )
    return False


def spawn(
    url: str,
    payload: dict[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    policy: WebhookPolicy | None = None,
) -> asyncio.Task[bool]:
    """Deliver in the background; `close()` waits briefly for it at shutdown."""
    task = asyncio.get_running_loop().create_task(
        deliver(url, payload, headers=headers, policy=policy), name="webhook"
    )
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    return task


async def close(grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
    """Let deliveries under way finish (up to `grace` seconds), then close the client."""
    global _client, _client_loop
    loop = asyncio.get_running_loop()
    pending = [task for task in _pending if not task.done() and task.get_loop() is loop]
    if pending:
        _done, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            logger.warning("Shutdown cancelled %d webhook deliveries", len(late))
    client, client_loop = _client, _client_loop
    _client = _client_loop = None
    # A client from another (finished) loop cannot be closed from this one; drop it.
    if client is not None and client_loop is loop:
        await client.aclose()
