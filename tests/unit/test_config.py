"""Settings come from the environment; bad values fail with a message naming them."""

from __future__ import annotations

import pytest

from robyn_server.config import Settings, SettingsError


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "DATABASE_URI", "SERVER_PORT", "LANGGRAPH_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert settings.port == 2024
    assert settings.database_url is None
    assert settings.database_pool_min_size == 2
    assert settings.database_pool_max_size == 10
    assert settings.config_file is None


def test_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVER_PORT", "2125")
    monkeypatch.setenv("DATABASE_URI", "postgresql://x@h/db")
    monkeypatch.setenv("DATABASE_FALLBACK_TO_MEMORY", "yes")
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a, https://b")
    settings = Settings.from_env()
    assert settings.port == 2125
    assert settings.database_url == "postgresql://x@h/db"
    assert settings.database_fallback_to_memory is True
    assert settings.cors_allow_origins == ["https://a", "https://b"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SERVER_PORT", "abc"),
        ("SERVER_PORT", "70000"),
        ("DATABASE_FALLBACK_TO_MEMORY", "perhaps"),
        ("DATABASE_POOL_MIN_SIZE", "20"),
    ],
)
def test_bad_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError):
        Settings.from_env()


def test_overrides_win_and_none_keeps_the_value() -> None:
    settings = Settings().with_overrides(port=3000, host=None)
    assert settings.port == 3000
    assert settings.host == "127.0.0.1"
