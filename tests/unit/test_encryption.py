"""The AES keyring (LangGraph's CipherProtocol with fallback keys), the JSON codec and
the key settings of encryption at rest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer

from robyn_server.config import Settings, SettingsError
from robyn_server.storage.encrypted_storage import encrypted
from robyn_server.storage.encryption import (
    CONTENT_KEYS,
    SEALED_PREFIX,
    AesKeyring,
    EncryptionKeyError,
    EncryptionSettings,
    JsonCodec,
    PlainSerializer,
    checkpoint_serde,
)
from robyn_server.storage.memory.storage import InMemoryStorage
from robyn_server.storage.types import ANONYMOUS
from tests.support.contract import make_assistant

OLD = b"o" * 16
NEW = b"n" * 32
OTHER = b"x" * 24


def test_keyring_round_trips_and_writes_with_the_current_key() -> None:
    ring = AesKeyring(NEW, [OLD])
    name, blob = ring.encrypt(b"hello")
    assert name == "aesgcm" and b"hello" not in blob
    assert ring.decrypt(name, blob) == b"hello"
    # Written with NEW: readable with NEW alone, not with OLD alone.
    assert AesKeyring(NEW).decrypt(name, blob) == b"hello"
    with pytest.raises(EncryptionKeyError):
        AesKeyring(OLD).decrypt(name, blob)


def test_keyring_reads_fallback_keys() -> None:
    _, old_blob = AesKeyring(OLD).encrypt(b"before rotation")
    assert AesKeyring(NEW, [OTHER, OLD]).decrypt("aesgcm", old_blob) == b"before rotation"


def test_each_encryption_uses_a_fresh_nonce() -> None:
    ring = AesKeyring(NEW)
    assert ring.encrypt(b"same")[1] != ring.encrypt(b"same")[1]


@pytest.mark.parametrize("damage", ["wrong-key", "tampered", "truncated", "cipher-name"])
def test_undecryptable_data_fails_clearly(damage: str) -> None:
    _, blob = AesKeyring(OLD).encrypt(b"secret")
    ring, name = AesKeyring(NEW, [OTHER]), "aesgcm"
    if damage == "wrong-key":
        pass
    elif damage == "tampered":
        ring, blob = AesKeyring(OLD), blob[:-1] + bytes([blob[-1] ^ 1])
    elif damage == "truncated":
        ring, blob = AesKeyring(OLD), blob[:20]
    else:
        ring, name = AesKeyring(OLD), "rot13"
    with pytest.raises(EncryptionKeyError) as caught:
        ring.decrypt(name, blob)
    assert caught.value.status_code == 503
    if damage != "cipher-name":
        assert "LANGGRAPH_AES_KEY" in caught.value.detail


def test_reads_checkpoints_of_langgraphs_own_helper() -> None:
    """Checkpoints that LangGraph's from_pycryptodome_aes (AES-EAX) wrote with the same
    key, current or fallback, stay readable; a wrong key fails clearly."""
    value = {"messages": ["hi"], "n": 1}
    for key in (NEW, OLD):
        theirs = EncryptedSerializer.from_pycryptodome_aes(key=key).dumps_typed(value)
        assert theirs[0].endswith("+aes")
        assert EncryptedSerializer(AesKeyring(NEW, [OLD])).loads_typed(theirs) == value
    with pytest.raises(EncryptionKeyError, match="LANGGRAPH_AES_KEY"):
        EncryptedSerializer(AesKeyring(OTHER)).loads_typed(theirs)
    ours = EncryptedSerializer(AesKeyring(NEW))
    assert ours.loads_typed(ours.dumps_typed(value)) == value


def test_checkpoint_serde_without_a_key_reads_plain_and_refuses_encrypted() -> None:
    plain = checkpoint_serde(None)
    assert isinstance(plain, PlainSerializer)
    assert plain.loads_typed(plain.dumps_typed({"a": 1})) == {"a": 1}
    sealed = checkpoint_serde(EncryptionSettings(NEW)).dumps_typed({"a": 1})
    assert sealed[0].endswith("+aesgcm")
    with pytest.raises(EncryptionKeyError, match="LANGGRAPH_AES_KEY is not set"):
        plain.loads_typed(sealed)


def test_json_codec_seals_only_content_keys() -> None:
    codec = JsonCodec(AesKeyring(NEW))
    kwargs = {"input": {"messages": ["secret"]}, "stream_mode": ["values"], "config": None}
    sealed = codec.seal_keys(kwargs, CONTENT_KEYS)
    assert sealed["input"].startswith(SEALED_PREFIX) and "secret" not in sealed["input"]
    assert sealed["stream_mode"] == ["values"] and sealed["config"] is None
    assert codec.open_keys(sealed, CONTENT_KEYS) == kwargs
    assert kwargs["input"] == {"messages": ["secret"]}  # the caller's dict is untouched


def test_json_codec_without_a_key() -> None:
    sealed = JsonCodec(AesKeyring(NEW)).seal("secret")
    plain = JsonCodec(None)
    assert not plain.active
    assert plain.seal({"a": 1}) == {"a": 1}
    assert plain.open("ordinary text") == "ordinary text"
    with pytest.raises(EncryptionKeyError, match="LANGGRAPH_AES_KEY is not set"):
        plain.open(sealed)


def test_json_codec_damaged_value() -> None:
    with pytest.raises(EncryptionKeyError, match="damaged"):
        JsonCodec(AesKeyring(NEW)).open(SEALED_PREFIX + "aesgcm:not base64!")


def test_settings_read_keys_as_langgraph_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGGRAPH_AES_KEY", "n" * 32)
    monkeypatch.setenv(
        "LANGGRAPH_AES_FALLBACK_KEYS", " oooooooooooooooo , xxxxxxxxxxxxxxxxxxxxxxxx,"
    )
    settings = Settings.from_env()
    assert settings.aes_key == NEW
    assert settings.aes_fallback_keys == (OLD, OTHER)
    assert "nnnn" not in repr(settings)
    assert EncryptionSettings.of(settings.aes_key, settings.aes_fallback_keys) == (
        EncryptionSettings(NEW, (OLD, OTHER))
    )


def test_key_length_counts_utf8_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGGRAPH_AES_KEY", "é" * 8)  # 8 characters, 16 bytes, as LangGraph
    assert Settings.from_env().aes_key == ("é" * 8).encode()


def test_settings_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANGGRAPH_AES_KEY", raising=False)
    monkeypatch.delenv("LANGGRAPH_AES_FALLBACK_KEYS", raising=False)
    settings = Settings.from_env()
    assert settings.aes_key is None
    assert EncryptionSettings.of(settings.aes_key) is None


@pytest.mark.parametrize(
    ("key", "fallbacks", "message"),
    [
        ("short", None, "LANGGRAPH_AES_KEY must be 16, 24 or 32 bytes long"),
        ("n" * 33, None, "got 33 bytes"),
        ("n" * 32, "short", "LANGGRAPH_AES_FALLBACK_KEYS must be 16"),
        (None, "o" * 16, "LANGGRAPH_AES_KEY is not"),
    ],
)
def test_malformed_keys(
    monkeypatch: pytest.MonkeyPatch, key: str | None, fallbacks: str | None, message: str
) -> None:
    for name, value in (("LANGGRAPH_AES_KEY", key), ("LANGGRAPH_AES_FALLBACK_KEYS", fallbacks)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_env()
    assert "short" not in str(caught.value)


async def test_the_user_a_cron_runs_as_is_sealed_but_its_identity() -> None:
    storage = encrypted(InMemoryStorage, JsonCodec(AesKeyring(NEW)))()
    assistant = await make_assistant(storage)
    user = {"identity": "alice", "permissions": ["p"], "github_token": "t0k3n"}
    cron = await storage.cron_create(
        ANONYMOUS,
        cron_id=str(uuid.uuid4()),
        assistant_id=assistant["assistant_id"],
        thread_id=None,
        schedule="* * * * *",
        timezone=None,
        end_time=None,
        payload={},
        metadata={},
        on_run_completed="delete",
        enabled=True,
        next_run_date=datetime.now(UTC) - timedelta(seconds=1),
        run_as=user,
    )
    assert cron is not None and cron["user_id"] == "alice"
    stored = storage._cron_run_as[cron["cron_id"]]
    assert stored["identity"] == "alice" and "t0k3n" not in str(stored)
    [due] = await storage.cron_due(datetime.now(UTC), limit=1)
    assert due["run_as"] == user
