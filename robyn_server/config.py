"""Settings from the environment (and a `.env` file), with command-line overrides.

Every setting is documented in `.env.example` at the repository root.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict, Unpack
from urllib.parse import urlsplit

from robyn_server.cpus import available_cpus

# Found in the working directory, as `langgraph dev` finds it: a server installed as a
# wheel has no project folder of its own.
DEFAULT_CONFIG_FILE = Path("langgraph.json")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """A setting has a value the server cannot use."""


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _aes_key(raw: str, name: str) -> bytes:
    """A key read as LangGraph reads LANGGRAPH_AES_KEY: the UTF-8 bytes of the string."""
    key = raw.encode()
    if len(key) not in (16, 24, 32):
        # The length only: the message must never quote a key.
        raise SettingsError(
            f"{name} must be 16, 24 or 32 bytes long (AES-128, -192 or -256), got {len(key)} bytes"
        )
    return key


def _env_aes_keys() -> tuple[bytes | None, tuple[bytes, ...]]:
    raw = os.environ.get("LANGGRAPH_AES_KEY") or ""
    fallbacks = _env_list("LANGGRAPH_AES_FALLBACK_KEYS", [])
    if not raw:
        if fallbacks:
            raise SettingsError("LANGGRAPH_AES_FALLBACK_KEYS is set but LANGGRAPH_AES_KEY is not")
        return None, ()
    name = "each key of LANGGRAPH_AES_FALLBACK_KEYS"
    return _aes_key(raw, "LANGGRAPH_AES_KEY"), tuple(_aes_key(k, name) for k in fallbacks)


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# JWT algorithms by the key that verifies them. "none" is in neither: an unsigned token
# must never be accepted, whatever the configuration says.
JWT_SECRET_ALGORITHMS = ("HS256", "HS384", "HS512")
JWT_PUBLIC_KEY_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
# What Supabase, Auth0, Clerk and Keycloak sign with (RS256 for most, ES256 for new
# Supabase projects).
JWT_DEFAULT_PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256")
# RFC 7518 3.2: an HMAC key at least as long as the hash; shorter secrets can be brute-forced.
JWT_MIN_SECRET_BYTES = 32
_JWT_SETTINGS = (
    "AUTH_JWT_ALGORITHMS",
    "AUTH_JWT_AUDIENCE",
    "AUTH_JWT_ISSUER",
    "AUTH_JWT_LEEWAY_SECONDS",
    "AUTH_JWT_IDENTITY_CLAIM",
    "AUTH_JWT_PERMISSIONS_CLAIM",
    "AUTH_JWT_JWKS_CACHE_SECONDS",
)


def _env_jwt_algorithms() -> tuple[str, ...]:
    """Algorithm names as written in the JOSE registry, whatever case the user typed."""
    canonical = {
        name.lower(): name for name in (*JWT_SECRET_ALGORITHMS, *JWT_PUBLIC_KEY_ALGORITHMS)
    }
    names = _env_list("AUTH_JWT_ALGORITHMS", [])
    return tuple(canonical.get(name.lower(), name) for name in names)


def _env_jwt_key_source() -> tuple[str | None, str | None]:
    secret = os.environ.get("AUTH_JWT_SECRET") or None
    jwks_url = (os.environ.get("AUTH_JWT_JWKS_URL") or "").strip() or None
    if secret is None and jwks_url is None:
        # A half-configured JWT auth must not silently leave the server open.
        stray = [name for name in _JWT_SETTINGS if (os.environ.get(name) or "").strip()]
        if stray:
            raise SettingsError(
                f"{', '.join(stray)} set, but neither AUTH_JWT_SECRET nor AUTH_JWT_JWKS_URL: "
                "set one of them to turn JWT auth on, or unset the others"
            )
    return secret, jwks_url


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _validate_jwt(settings: Settings) -> None:
    secret, jwks_url = settings.auth_jwt_secret, settings.auth_jwt_jwks_url
    if secret is not None and jwks_url is not None:
        raise SettingsError(
            "set AUTH_JWT_SECRET (a shared HS256 secret) or AUTH_JWT_JWKS_URL (the issuer's "
            "public keys), not both"
        )
    if secret is None and jwks_url is None:
        return
    if secret is not None and len(secret.encode()) < JWT_MIN_SECRET_BYTES:
        # The length only: the message must never quote a secret.
        raise SettingsError(
            f"AUTH_JWT_SECRET must be at least {JWT_MIN_SECRET_BYTES} bytes long, "
            f"got {len(secret.encode())} bytes"
        )
    if jwks_url is not None:
        parts = urlsplit(jwks_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(f"AUTH_JWT_JWKS_URL must be an http(s) URL, got {jwks_url!r}")
        if parts.scheme == "http" and not _is_loopback_host(parts.hostname):
            # Whoever can alter the key set can sign tokens for any user.
            raise SettingsError(
                f"AUTH_JWT_JWKS_URL must use https (plain http only on loopback), got {jwks_url!r}"
            )
    allowed = JWT_SECRET_ALGORITHMS if secret is not None else JWT_PUBLIC_KEY_ALGORITHMS
    for name in settings.auth_jwt_algorithms:
        if name.lower() == "none":
            raise SettingsError(
                "AUTH_JWT_ALGORITHMS must not contain 'none': unsigned tokens would be accepted"
            )
        if secret is not None and name in JWT_PUBLIC_KEY_ALGORITHMS:
            raise SettingsError(
                f"AUTH_JWT_ALGORITHMS: {name} needs a public key (AUTH_JWT_JWKS_URL); "
                f"AUTH_JWT_SECRET verifies only {', '.join(JWT_SECRET_ALGORITHMS)}"
            )
        if jwks_url is not None and name in JWT_SECRET_ALGORITHMS:
            raise SettingsError(
                f"AUTH_JWT_ALGORITHMS: {name} cannot be used with AUTH_JWT_JWKS_URL: a key set "
                "publishes public keys, and accepting HMAC with them allows forged tokens; "
                f"use {', '.join(JWT_DEFAULT_PUBLIC_KEY_ALGORITHMS)} or other public-key algorithms"
            )
        if name not in allowed:
            raise SettingsError(
                f"AUTH_JWT_ALGORITHMS: unknown algorithm {name!r}; supported: {', '.join(allowed)}"
            )
    for name, claim in (
        ("AUTH_JWT_IDENTITY_CLAIM", settings.auth_jwt_identity_claim),
        ("AUTH_JWT_PERMISSIONS_CLAIM", settings.auth_jwt_permissions_claim),
    ):
        if not claim.strip():
            raise SettingsError(f"{name} must name a claim, got an empty value")
    if settings.auth_jwt_leeway_seconds < 0:
        raise SettingsError("AUTH_JWT_LEEWAY_SECONDS must not be negative")
    if settings.auth_jwt_jwks_cache_seconds < 1:
        raise SettingsError("AUTH_JWT_JWKS_CACHE_SECONDS must be at least 1")


class SettingsOverrides(TypedDict, total=False):
    """What `Settings.with_overrides` accepts; a None value means "keep the current one"."""

    host: str | None
    port: int | None
    workers: int | None
    processes: int | None
    config_file: Path | None
    log_level: str | None
    cors_allow_origins: list[str] | None


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 2024
    workers: int = 1
    # None: LANGSERVE_GRAPHS if set, else the repository's own langgraph.json.
    config_file: Path | None = None
    database_url: str | None = None
    database_pool_min_size: int = 2
    database_pool_max_size: int = 10
    database_probe_timeout: float = 5.0
    database_pool_timeout: float = 10.0
    database_fallback_to_memory: bool = False
    # False: commits do not wait for the WAL flush, except the one creating a run.
    database_synchronous_commit: bool = False
    cors_allow_origins: list[str] = field(default_factory=lambda: ["*"])
    max_request_body_bytes: int = 10 * 1024 * 1024
    log_level: str = "INFO"
    # Lets run webhooks call loopback, private and link-local addresses (development, tests).
    webhook_allow_private: bool = False
    # The run engine (robyn_server/engine).
    run_timeout_seconds: float = 3600.0
    run_max_attempts: int = 3
    run_max_concurrency: int = 1000
    # Several processes share the run queue on Postgres (engine/cluster.py): each holds
    # a lease renewed every quarter of it; a dead process's runs are re-queued by the
    # others within about one lease. The sweep catches wake-ups lost in a reconnect.
    processes: int = 1
    run_lease_seconds: float = 10.0
    run_queue_sweep_seconds: float = 30.0
    sse_heartbeat_seconds: float = 5.0
    resumable_stream_ttl_seconds: float = 120.0
    # Each open stream holds one of Robyn's blocking threads; 0 means "derive from workers"
    # (see `open_stream_limit`).
    max_open_streams: int = 0
    # sys.setswitchinterval for the server process, in ms (0: Python's 5 ms); see
    # `http/stream_body.py` for why thousands of stream threads make it matter.
    gil_switch_interval_ms: float = 5.0
    # How many parked stream threads may be woken at once (http/stream_body.py).
    stream_wake_limit: int = 64
    # The cron scheduler (services/cron_scheduler.py): whether this server fires crons,
    # and the longest it sleeps without looking (it wakes for the next due cron, and
    # for every change that could make one due sooner, on its own).
    cron_scheduler_enabled: bool = True
    cron_scheduler_max_sleep_seconds: float = 30.0
    # The server's address as clients reach it (A2A agent cards link to it); None: the
    # request's own, or X-Forwarded-Proto/-Host when a proxy sets them.
    public_base_url: str | None = None
    # Encryption at rest (storage/encryption.py): None leaves everything unencrypted.
    # Never in repr, so a logged Settings cannot leak a key.
    aes_key: bytes | None = field(default=None, repr=False)
    aes_fallback_keys: tuple[bytes, ...] = field(default=(), repr=False)
    # Built-in JWT auth (auth/jwt.py): on when a secret or a JWKS URL is set. The secret is
    # never in repr. Empty algorithms: HS256 with a secret, RS256 and ES256 with a JWKS.
    auth_jwt_secret: str | None = field(default=None, repr=False)
    auth_jwt_jwks_url: str | None = None
    auth_jwt_algorithms: tuple[str, ...] = ()
    # Empty: the token must carry no `aud` (PyJWT's rule); Supabase needs "authenticated".
    auth_jwt_audience: tuple[str, ...] = ()
    auth_jwt_issuer: str | None = None
    auth_jwt_leeway_seconds: int = 30
    auth_jwt_identity_claim: str = "sub"
    auth_jwt_permissions_claim: str = "permissions"
    auth_jwt_jwks_cache_seconds: int = 300

    @classmethod
    def from_env(cls) -> Settings:
        database_url = os.environ.get("DATABASE_URL") or os.environ.get("DATABASE_URI") or None
        aes_key, aes_fallback_keys = _env_aes_keys()
        jwt_secret, jwt_jwks_url = _env_jwt_key_source()
        settings = cls(
            host=os.environ.get("SERVER_HOST", cls.host),
            port=_env_int("SERVER_PORT", cls.port, minimum=0),
            workers=_env_int("SERVER_WORKERS", cls.workers, minimum=1),
            config_file=(
                Path(os.environ["LANGGRAPH_CONFIG_FILE"])
                if os.environ.get("LANGGRAPH_CONFIG_FILE")
                else None
            ),
            database_url=database_url,
            database_pool_min_size=_env_int("DATABASE_POOL_MIN_SIZE", 2, minimum=1),
            database_pool_max_size=_env_int("DATABASE_POOL_MAX_SIZE", 10, minimum=1),
            database_probe_timeout=_env_float("DATABASE_PROBE_TIMEOUT", 5.0),
            database_pool_timeout=_env_float("DATABASE_POOL_TIMEOUT", 10.0),
            database_fallback_to_memory=_env_bool("DATABASE_FALLBACK_TO_MEMORY", False),
            database_synchronous_commit=_env_bool("DATABASE_SYNCHRONOUS_COMMIT", False),
            cors_allow_origins=_env_list("CORS_ALLOW_ORIGINS", ["*"]),
            max_request_body_bytes=_env_int(
                "HTTP_MAX_REQUEST_BODY_BYTES", 10 * 1024 * 1024, minimum=1024
            ),
            log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
            webhook_allow_private=_env_bool("WEBHOOK_ALLOW_PRIVATE", False),
            run_timeout_seconds=_env_float("BG_JOB_TIMEOUT_SECS", 3600.0),
            run_max_attempts=_env_int("RUN_MAX_ATTEMPTS", 3, minimum=1),
            run_max_concurrency=_env_int("RUN_MAX_CONCURRENCY", 1000, minimum=1),
            processes=_env_int("SERVER_PROCESSES", 1, minimum=1),
            run_lease_seconds=_env_float("RUN_LEASE_SECONDS", 10.0),
            run_queue_sweep_seconds=_env_float("RUN_QUEUE_SWEEP_SECONDS", 30.0),
            sse_heartbeat_seconds=_env_float("SSE_HEARTBEAT_SECONDS", 5.0),
            resumable_stream_ttl_seconds=_env_float("RESUMABLE_STREAM_TTL_SECONDS", 120.0),
            max_open_streams=_env_int("MAX_OPEN_STREAMS", 0, minimum=0),
            gil_switch_interval_ms=_env_float("GIL_SWITCH_INTERVAL_MS", 5.0),
            stream_wake_limit=_env_int("STREAM_WAKE_LIMIT", 64, minimum=1),
            cron_scheduler_enabled=_env_bool("CRON_SCHEDULER_ENABLED", True),
            cron_scheduler_max_sleep_seconds=_env_float("CRON_SCHEDULER_MAX_SLEEP_SECONDS", 30.0),
            public_base_url=os.environ.get("PUBLIC_BASE_URL") or None,
            aes_key=aes_key,
            aes_fallback_keys=aes_fallback_keys,
            auth_jwt_secret=jwt_secret,
            auth_jwt_jwks_url=jwt_jwks_url,
            auth_jwt_algorithms=_env_jwt_algorithms(),
            auth_jwt_audience=tuple(_env_list("AUTH_JWT_AUDIENCE", [])),
            auth_jwt_issuer=(os.environ.get("AUTH_JWT_ISSUER") or "").strip() or None,
            auth_jwt_leeway_seconds=_env_int("AUTH_JWT_LEEWAY_SECONDS", 30, minimum=0),
            auth_jwt_identity_claim=os.environ.get("AUTH_JWT_IDENTITY_CLAIM", "sub").strip(),
            auth_jwt_permissions_claim=os.environ.get(
                "AUTH_JWT_PERMISSIONS_CLAIM", "permissions"
            ).strip(),
            auth_jwt_jwks_cache_seconds=_env_int("AUTH_JWT_JWKS_CACHE_SECONDS", 300, minimum=1),
        )
        settings.validate()
        return settings

    @property
    def auth_jwt_enabled(self) -> bool:
        return self.auth_jwt_secret is not None or self.auth_jwt_jwks_url is not None

    @property
    def auth_jwt_allowed_algorithms(self) -> tuple[str, ...]:
        """The algorithms a token may be signed with: AUTH_JWT_ALGORITHMS, else the
        default for the key source."""
        if self.auth_jwt_algorithms:
            return self.auth_jwt_algorithms
        if self.auth_jwt_secret is not None:
            return ("HS256",)
        return JWT_DEFAULT_PUBLIC_KEY_ALGORITHMS

    @property
    def stream_thread_capacity(self) -> int:
        """Robyn's blocking threads in one server process: each of its `workers` actix
        workers runs a tokio runtime with max(512 // cpus, 1) of them (actix-server's
        default), cpus as Rust counts them (`available_cpus`). Each open stream holds one."""
        return self.workers * max(512 // available_cpus(), 1)

    @property
    def open_stream_limit(self) -> int:
        """Open streams one server process accepts before answering 503: MAX_OPEN_STREAMS
        if set, else 90% of `stream_thread_capacity` (connections are not spread
        perfectly evenly over workers, and a stream beyond its worker's threads would
        wait unseen instead of being refused). With N processes, N times this."""
        if self.max_open_streams:
            return self.max_open_streams
        return max(self.stream_thread_capacity * 9 // 10, 1)

    @property
    def open_stream_limit_warning(self) -> str | None:
        """Why MAX_OPEN_STREAMS is set higher than Robyn can serve, if it is."""
        capacity = self.stream_thread_capacity
        if self.max_open_streams <= capacity:
            return None
        return (
            f"MAX_OPEN_STREAMS={self.max_open_streams} exceeds the {capacity} streams Robyn "
            f"can serve at once with SERVER_WORKERS={self.workers} on {available_cpus()} "
            "CPUs: streams beyond it wait for a thread (no events, no heartbeats) instead of "
            "getting a 503. Raise SERVER_WORKERS."
        )

    def with_overrides(self, **changes: Unpack[SettingsOverrides]) -> Settings:
        # The TypedDict checks the callers; replace() takes the surviving keys as Any.
        present: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
        updated = replace(self, **present)
        updated.validate()
        return updated

    def validate(self) -> None:
        if not self.gil_switch_interval_ms >= 0:
            raise SettingsError("GIL_SWITCH_INTERVAL_MS must not be negative")
        if not self.run_lease_seconds >= 1:
            raise SettingsError("RUN_LEASE_SECONDS must be at least 1")
        if not self.run_queue_sweep_seconds > 0:
            raise SettingsError("RUN_QUEUE_SWEEP_SECONDS must be positive")
        if not self.cron_scheduler_max_sleep_seconds > 0:
            raise SettingsError("CRON_SCHEDULER_MAX_SLEEP_SECONDS must be positive")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, got {self.port}")
        if self.database_pool_min_size > self.database_pool_max_size:
            raise SettingsError(
                "DATABASE_POOL_MIN_SIZE must not exceed DATABASE_POOL_MAX_SIZE "
                f"({self.database_pool_min_size} > {self.database_pool_max_size})"
            )
        _validate_jwt(self)
