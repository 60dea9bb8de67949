"""The `AUTH_JWT_*` settings: the defaults fit Supabase, Auth0 and Clerk, and every unsafe
or contradictory value stops the server with a message naming the setting."""

from __future__ import annotations

import re

import pytest

from robyn_server.config import Settings, SettingsError
from tests.support.jwt_tokens import SECRET

JWT_SETTINGS = (
    "AUTH_JWT_SECRET",
    "AUTH_JWT_JWKS_URL",
    "AUTH_JWT_ALGORITHMS",
    "AUTH_JWT_AUDIENCE",
    "AUTH_JWT_ISSUER",
    "AUTH_JWT_LEEWAY_SECONDS",
    "AUTH_JWT_IDENTITY_CLAIM",
    "AUTH_JWT_PERMISSIONS_CLAIM",
    "AUTH_JWT_JWKS_CACHE_SECONDS",
)
SUPABASE_JWKS = "https://abcd1234.supabase.co/auth/v1/.well-known/jwks.json"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in JWT_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_off_by_default() -> None:
    settings = Settings.from_env()
    assert not settings.auth_jwt_enabled
    assert settings.auth_jwt_secret is None and settings.auth_jwt_jwks_url is None


def test_a_secret_means_hs256(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AUTH_JWT_SECRET", SECRET)
    settings = Settings.from_env()
    assert settings.auth_jwt_enabled
    assert settings.auth_jwt_allowed_algorithms == ("HS256",)
    assert (settings.auth_jwt_leeway_seconds, settings.auth_jwt_jwks_cache_seconds) == (30, 300)
    assert settings.auth_jwt_identity_claim == "sub"
    assert settings.auth_jwt_permissions_claim == "permissions"
    # A logged Settings never shows the secret.
    assert SECRET not in repr(settings)


def test_a_jwks_url_means_rs256_and_es256(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AUTH_JWT_JWKS_URL", SUPABASE_JWKS)
    clean_env.setenv("AUTH_JWT_AUDIENCE", "authenticated")
    clean_env.setenv("AUTH_JWT_ISSUER", "https://abcd1234.supabase.co/auth/v1")
    settings = Settings.from_env()
    assert settings.auth_jwt_allowed_algorithms == ("RS256", "ES256")
    assert settings.auth_jwt_audience == ("authenticated",)
    assert settings.auth_jwt_issuer == "https://abcd1234.supabase.co/auth/v1"


def test_values_are_read_and_algorithms_normalised(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AUTH_JWT_JWKS_URL", "http://127.0.0.1:2350/jwks.json")
    clean_env.setenv("AUTH_JWT_ALGORITHMS", "rs256, eddsa")
    clean_env.setenv("AUTH_JWT_AUDIENCE", "api-1,api-2")
    clean_env.setenv("AUTH_JWT_LEEWAY_SECONDS", "5")
    clean_env.setenv("AUTH_JWT_IDENTITY_CLAIM", "email")
    clean_env.setenv("AUTH_JWT_PERMISSIONS_CLAIM", "scope")
    clean_env.setenv("AUTH_JWT_JWKS_CACHE_SECONDS", "60")
    settings = Settings.from_env()
    assert settings.auth_jwt_allowed_algorithms == ("RS256", "EdDSA")
    assert settings.auth_jwt_audience == ("api-1", "api-2")
    assert settings.auth_jwt_leeway_seconds == 5
    assert settings.auth_jwt_identity_claim == "email"
    assert settings.auth_jwt_permissions_claim == "scope"
    assert settings.auth_jwt_jwks_cache_seconds == 60


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_JWKS_URL": SUPABASE_JWKS}, "not both"),
        ({"AUTH_JWT_SECRET": "short"}, "at least 32 bytes long, got 5 bytes"),
        (
            {"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_ALGORITHMS": "HS256,none"},
            "must not contain 'none'",
        ),
        ({"AUTH_JWT_JWKS_URL": SUPABASE_JWKS, "AUTH_JWT_ALGORITHMS": "NONE"}, "'none'"),
        (
            {"AUTH_JWT_JWKS_URL": SUPABASE_JWKS, "AUTH_JWT_ALGORITHMS": "RS256,HS256"},
            "HS256 cannot",
        ),
        ({"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_ALGORITHMS": "RS256"}, "RS256 needs a public key"),
        ({"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_ALGORITHMS": "HS999"}, "unknown algorithm 'HS999'"),
        ({"AUTH_JWT_JWKS_URL": "http://auth.example.com/jwks.json"}, "must use https"),
        ({"AUTH_JWT_JWKS_URL": "ftp://auth.example.com/jwks.json"}, "http(s) URL"),
        ({"AUTH_JWT_JWKS_URL": "jwks.json"}, "http(s) URL"),
        ({"AUTH_JWT_AUDIENCE": "authenticated"}, "AUTH_JWT_AUDIENCE set, but neither"),
        (
            {"AUTH_JWT_ISSUER": "x", "AUTH_JWT_LEEWAY_SECONDS": "5"},
            "AUTH_JWT_ISSUER, AUTH_JWT_LEEWAY",
        ),
        ({"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_LEEWAY_SECONDS": "-1"}, "AUTH_JWT_LEEWAY_SECONDS"),
        ({"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_LEEWAY_SECONDS": "soon"}, "must be an integer"),
        ({"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_JWKS_CACHE_SECONDS": "0"}, "at least 1"),
        ({"AUTH_JWT_SECRET": SECRET, "AUTH_JWT_IDENTITY_CLAIM": "  "}, "AUTH_JWT_IDENTITY_CLAIM"),
    ],
)
def test_bad_values_stop_the_server(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env()


def test_a_short_secret_is_never_quoted(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AUTH_JWT_SECRET", "hunter2-secret")
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_plain_http_is_allowed_on_loopback_only(clean_env: pytest.MonkeyPatch, host: str) -> None:
    clean_env.setenv("AUTH_JWT_JWKS_URL", f"http://{host}:2350/jwks.json")
    assert Settings.from_env().auth_jwt_enabled


def test_settings_built_in_code_are_validated_too() -> None:
    with pytest.raises(SettingsError, match="not both"):
        Settings(auth_jwt_secret=SECRET, auth_jwt_jwks_url=SUPABASE_JWKS).validate()
    with pytest.raises(SettingsError, match="HS256 cannot"):
        Settings(auth_jwt_jwks_url=SUPABASE_JWKS, auth_jwt_algorithms=("HS256",)).validate()
