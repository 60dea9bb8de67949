"""Encryption at rest: `LANGGRAPH_AES_KEY`, with `LANGGRAPH_AES_FALLBACK_KEYS` for rotation.

Checkpoints go through LangGraph's own `EncryptedSerializer` with `AesKeyring` as its
cipher. `AesKeyring` writes exactly what LangGraph's `from_pycryptodome_aes` helper
writes (cipher name "aes", AES-EAX, nonce + tag + ciphertext), so checkpoints move
between this server and LangGraph's with the same key, but it tries every fallback key
on decrypt. AES-EAX comes from pycryptodome: the `cryptography` package has no EAX mode.

Our own JSON columns go through `JsonCodec` at the storage boundary (`EncryptedStorage`):
each sealed value becomes a string `"$aes:" + base64(nonce + tag + ciphertext)` of its
JSON text. What is sealed, and why (everything else stays plain, and searchable):

- runs.kwargs: `input`, `command`, `config`, `context` (the user's content and settings;
  the other keys steer the engine: stream modes, webhook, durability ...);
- crons.payload: the same four keys (per key, so `payload || new` still merges);
- threads: `values`, `interrupts` and `error` (copies of the state's last values), whole.
  Searching threads by `values` is refused while encryption is on: ciphertext cannot match.

Metadata (assistants, threads, runs, crons) is never encrypted, so it stays searchable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from Crypto.Cipher import AES
from langgraph.checkpoint.serde.base import CipherProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from robyn_server.errors import ApiError

KEY_ENV = "LANGGRAPH_AES_KEY"
FALLBACK_ENV = "LANGGRAPH_AES_FALLBACK_KEYS"
CIPHER_NAME = "aes"
SEALED_PREFIX = "$aes:"
# The run kwargs and cron payload keys that carry user content.
CONTENT_KEYS = ("input", "command", "config", "context")
THREAD_STATE_KEYS = ("values", "interrupts", "error")
_NONCE = 16
_TAG = 16


class EncryptionKeyError(ApiError):
    """Stored data cannot be decrypted with the configured key(s), or is encrypted while
    no key is configured. A server configuration problem, not a client one: 503 with a
    message naming the setting, never a generic 500 or undecrypted bytes."""

    status_code = 503


@dataclass(frozen=True)
class EncryptionSettings:
    """The current key (all new writes) and the fallback keys (reads only)."""

    key: bytes
    fallback_keys: tuple[bytes, ...] = ()

    @classmethod
    def of(
        cls, key: bytes | None, fallback_keys: Sequence[bytes] = ()
    ) -> EncryptionSettings | None:
        return None if key is None else cls(key, tuple(fallback_keys))


class AesKeyring(CipherProtocol):
    """LangGraph's cipher protocol over AES-EAX: encrypts with the current key, decrypts
    with the current key or any fallback key (the one whose tag verifies)."""

    def __init__(self, key: bytes, fallback_keys: Sequence[bytes] = ()) -> None:
        self._key = key
        self._keys = (key, *(k for k in fallback_keys if k != key))

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        cipher = AES.new(self._key, AES.MODE_EAX)
        ciphertext, tag = cipher.encrypt_and_digest(plaintext)
        return CIPHER_NAME, cipher.nonce + tag + ciphertext

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        if ciphername != CIPHER_NAME:
            raise EncryptionKeyError(f"stored data uses an unknown cipher {ciphername!r}")
        nonce, tag, body = (
            ciphertext[:_NONCE],
            ciphertext[_NONCE : _NONCE + _TAG],
            ciphertext[_NONCE + _TAG :],
        )
        for key in self._keys:
            try:
                return AES.new(key, AES.MODE_EAX, nonce=nonce).decrypt_and_verify(body, tag)
            except ValueError:  # the tag does not verify: another key, or damaged data
                continue
        raise EncryptionKeyError(
            f"stored data cannot be decrypted with {KEY_ENV} (nor any of {FALLBACK_ENV}): "
            f"it was encrypted with another key. Set {KEY_ENV} to the key it was written "
            f"with, or list that key in {FALLBACK_ENV}."
        )


def _missing_key() -> EncryptionKeyError:
    return EncryptionKeyError(
        f"stored data is encrypted but {KEY_ENV} is not set: restart the server with the "
        f"key the data was written with"
    )


class PlainSerializer(JsonPlusSerializer):
    """The checkpoint serializer without a key: LangGraph's default, except that an
    encrypted checkpoint fails with a clear EncryptionKeyError instead of an unknown-type
    error (one substring test per load)."""

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        if "+" in data[0]:
            raise _missing_key()
        return super().loads_typed(data)


def checkpoint_serde(settings: EncryptionSettings | None) -> JsonPlusSerializer | Any:
    """The serializer for the checkpointer: encrypting with a key, else PlainSerializer."""
    if settings is None:
        return PlainSerializer()
    return EncryptedSerializer(AesKeyring(settings.key, settings.fallback_keys))


class JsonCodec:
    """Seals JSON values into strings and opens them again. Without a keyring it seals
    nothing and only detects sealed values (to fail clearly instead of serving them)."""

    def __init__(self, keyring: AesKeyring | None) -> None:
        self.keyring = keyring

    @property
    def active(self) -> bool:
        return self.keyring is not None

    def seal(self, value: Any) -> Any:
        if self.keyring is None or value is None:
            return value
        _, blob = self.keyring.encrypt(json.dumps(value, separators=(",", ":")).encode())
        return SEALED_PREFIX + base64.b64encode(blob).decode("ascii")

    def open(self, value: Any) -> Any:
        if not (isinstance(value, str) and value.startswith(SEALED_PREFIX)):
            return value
        if self.keyring is None:
            raise _missing_key()
        try:
            blob = base64.b64decode(value[len(SEALED_PREFIX) :], validate=True)
        except ValueError:
            raise EncryptionKeyError("stored encrypted data is damaged") from None
        return json.loads(self.keyring.decrypt(CIPHER_NAME, blob))

    def seal_keys(self, doc: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
        if self.keyring is None:
            return doc
        return {k: self.seal(v) if k in keys else v for k, v in doc.items()}

    def open_keys(self, doc: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
        return {k: self.open(v) if k in keys else v for k, v in doc.items()}
