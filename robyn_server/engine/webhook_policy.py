"""Which URLs a run may name as its `webhook`: the SSRF policy and its configuration.

Configuration is the `webhooks` section of langgraph.json (or LANGGRAPH_WEBHOOKS, as the
LangGraph CLI passes it), plus WEBHOOK_ALLOW_PRIVATE for development:

    {"env_prefix": "LG_WEBHOOK_",
     "url": {"allowed_domains": ["hooks.example.com", "*.corp.example"],
             "require_https": true, "allowed_ports": [443], "disable_loopback": false,
             "max_url_length": 4096},
     "headers": {"Authorization": "Bearer ${{ env.LG_WEBHOOK_TOKEN }}"}}

Hostnames are resolved and refused if any address is loopback, private, link-local or
otherwise not public, because a client-chosen URL must not reach the server's own network.
Relative URLs ("/some/path", delivered to this server itself) are refused unless
`disable_loopback` is explicitly false, for the same reason.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from robyn_server.errors import ValidationFailed

__all__ = ["WebhookConfigError", "WebhookPolicy", "webhooks_config"]

DEFAULT_ENV_PREFIX = "LG_WEBHOOK_"
DEFAULT_MAX_URL_LENGTH = 4096
DEFAULT_PORTS = {"http": 80, "https": 443}
DNS_TIMEOUT_SECONDS = 5.0

Resolver = Callable[[str, int], Awaitable[list[str]]]


class WebhookConfigError(ValueError):
    """The `webhooks` configuration cannot be used; raised at start-up."""


# -- policy ------------------------------------------------------------------------------


async def _resolve_addresses(host: str, port: int) -> list[str]:
    # The loop's getaddrinfo runs in the default executor, so the loop is never blocked.
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class WebhookPolicy:
    allow_private: bool = False
    allowed_domains: tuple[str, ...] = ()
    require_https: bool = False
    allowed_ports: tuple[int, ...] | None = None
    allow_relative: bool = False
    # Where relative URLs go: this server's own address, e.g. "http://127.0.0.1:2024".
    loopback_base_url: str | None = None
    max_url_length: int = DEFAULT_MAX_URL_LENGTH
    # Resolved values; kept out of repr because they usually carry secrets.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    resolve: Resolver = field(default=_resolve_addresses, repr=False, compare=False)

    @classmethod
    def from_sources(
        cls,
        raw_webhooks_config: dict[str, Any] | None,
        allow_private: bool,
        *,
        loopback_base_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> WebhookPolicy:
        """The policy from langgraph.json's `webhooks` and WEBHOOK_ALLOW_PRIVATE.

        Header templates are resolved here, once, so a missing variable stops start-up
        instead of silently sending an empty header with every webhook.
        """
        raw = {} if raw_webhooks_config is None else raw_webhooks_config
        if not isinstance(raw, dict):
            raise WebhookConfigError("webhooks must be an object")
        url = raw.get("url")
        url = {} if url is None else url
        if not isinstance(url, dict):
            raise WebhookConfigError("webhooks.url must be an object")
        disable_loopback = _bool(url.get("disable_loopback"), "webhooks.url.disable_loopback")
        env_prefix = raw.get("env_prefix", DEFAULT_ENV_PREFIX)
        if not isinstance(env_prefix, str):
            raise WebhookConfigError("webhooks.env_prefix must be a string")
        return cls(
            allow_private=bool(allow_private),
            allowed_domains=_domains(url.get("allowed_domains")),
            require_https=bool(_bool(url.get("require_https"), "webhooks.url.require_https")),
            allowed_ports=_ports(url.get("allowed_ports")),
            allow_relative=disable_loopback is False,
            loopback_base_url=loopback_base_url,
            max_url_length=_max_length(url.get("max_url_length")),
            headers=_headers(
                raw.get("headers"), env_prefix, os.environ if environ is None else environ
            ),
        )

    async def validate(self, url: str) -> None:
        """Raise ValidationFailed (422) unless runs may call `url`."""
        await self.target(url)

    async def target(self, url: str) -> str:
        """The absolute URL to POST to; raises ValidationFailed like `validate`."""
        if not isinstance(url, str) or not url:
            raise ValidationFailed("Webhook URL must be a non-empty string")
        if len(url) > self.max_url_length:
            raise ValidationFailed(f"Webhook URL is longer than {self.max_url_length} characters")
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
            raise ValidationFailed("Webhook URL must not contain whitespace or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValidationFailed("Webhook URL is not a valid URL") from None
        if not parts.scheme and not parts.netloc:
            return self._relative_target(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValidationFailed("Webhook URL must start with http:// or https://")
        if self.require_https and scheme != "https":
            raise ValidationFailed("Webhook URL must use https")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise ValidationFailed("Webhook URL has no host")
        effective_port = port or DEFAULT_PORTS[scheme]
        if self.allowed_ports is not None and effective_port not in self.allowed_ports:
            raise ValidationFailed(f"Webhook port not allowed: {effective_port}")
        if self.allowed_domains and not _domain_allowed(host, self.allowed_domains):
            raise ValidationFailed(f"Webhook host not allowed: {host} is not in allowed_domains")
        if not self.allow_private:
            await self._check_addresses(host, effective_port)
        return url

    def _relative_target(self, url: str) -> str:
        if not url.startswith("/"):
            raise ValidationFailed("Webhook URL must start with http:// or https://")
        if not self.allow_relative:
            raise ValidationFailed("Webhook URL must be absolute: relative URLs are not allowed")
        if not self.loopback_base_url:
            raise ValidationFailed("Relative webhook URLs need the server's own address")
        return self.loopback_base_url.rstrip("/") + url

    async def _check_addresses(self, host: str, port: int) -> None:
        if host == "localhost" or host.endswith(".localhost"):
            raise ValidationFailed("Webhook host blocked: localhost address")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            if reason := _blocked_reason(literal):
                raise ValidationFailed(f"Webhook host blocked: {reason}")
            return
        try:
            addresses = await asyncio.wait_for(self.resolve(host, port), DNS_TIMEOUT_SECONDS)
        except (OSError, UnicodeError, TimeoutError):
            addresses = []
        if not addresses:
            raise ValidationFailed(f"Webhook host could not be resolved: {host}")
        for address in addresses:
            try:
                reason = _blocked_reason(ipaddress.ip_address(address))
            except ValueError:
                reason = "non-public address"
            if reason:
                raise ValidationFailed(f"Webhook host blocked: {host} resolves to a {reason}")


def _blocked_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a run may not call this address, or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _blocked_reason(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            return _blocked_reason(ip.sixtofour)
    # Order matters: 0.0.0.0 and 169.254/16 also count as private.
    checks = (
        (ip.is_loopback, "loopback address"),
        (ip.is_link_local, "link-local address"),
        (ip.is_unspecified, "wildcard address"),
        (ip.is_multicast, "multicast address"),
        (ip.is_private, "private address"),
        (ip.is_reserved, "reserved address"),
        (not ip.is_global, "non-public address"),
    )
    return next((reason for blocked, reason in checks if blocked), None)


def _domain_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    for entry in allowed:
        if entry.startswith("*."):
            # A wildcard covers subdomains only, never the apex itself.
            if host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


# -- configuration parsing ----------------------------------------------------------------

_TEMPLATE = re.compile(
    r"\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}|\$\{([A-Za-z_][A-Za-z0-9_]*)\}"
)


def webhooks_config(registry: Any, environ: Mapping[str, str] | None = None) -> Any:
    """The raw `webhooks` section: langgraph.json's, else LANGGRAPH_WEBHOOKS (JSON)."""
    config = getattr(registry, "_config", None)
    raw = config.raw.get("webhooks") if config is not None else None
    if raw is not None:
        return raw
    text = (os.environ if environ is None else environ).get("LANGGRAPH_WEBHOOKS")
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WebhookConfigError(f"LANGGRAPH_WEBHOOKS is not valid JSON: {exc}") from None


def _bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise WebhookConfigError(f"{name} must be true or false")


def _domains(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise WebhookConfigError("webhooks.url.allowed_domains must be a list of host names")
    domains = tuple(v.strip().lower().rstrip(".") for v in value)
    for domain in domains:
        if "*" in domain and not (domain.startswith("*.") and "*" not in domain[2:]):
            raise WebhookConfigError(
                f"webhooks.url.allowed_domains: {domain!r} may only use a leading '*.'"
            )
    return domains


def _ports(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    valid = isinstance(value, list) and all(
        isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in value
    )
    if not valid:
        raise WebhookConfigError("webhooks.url.allowed_ports must be a list of port numbers")
    return tuple(value)


def _max_length(value: Any) -> int:
    if value is None:
        return DEFAULT_MAX_URL_LENGTH
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WebhookConfigError("webhooks.url.max_url_length must be a positive integer")
    return value


def _headers(value: Any, env_prefix: str, environ: Mapping[str, str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebhookConfigError("webhooks.headers must be an object of header: value")
    headers: dict[str, str] = {}
    for name, template in value.items():
        if not isinstance(template, str):
            raise WebhookConfigError(f"webhooks.headers.{name} must be a string")

        def substitute(match: re.Match[str], name: str = name) -> str:
            variable = match.group(1) or match.group(2)
            # The prefix keeps a config file from exporting arbitrary server secrets.
            if not variable.startswith(env_prefix):
                raise WebhookConfigError(
                    f"webhooks.headers.{name}: {variable} does not start with {env_prefix!r} "
                    "(webhooks.env_prefix)"
                )
            if variable not in environ:
                raise WebhookConfigError(f"webhooks.headers.{name}: {variable} is not set")
            return environ[variable]

        resolved = _TEMPLATE.sub(substitute, template)
        if "\r" in resolved or "\n" in resolved:
            raise WebhookConfigError(f"webhooks.headers.{name} must be a single line")
        headers[str(name)] = resolved
    return headers
