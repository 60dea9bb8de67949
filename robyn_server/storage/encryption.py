"""Encryption at rest: `LANGGRAPH_AES_KEY`, with `LANGGRAPH_AES_FALLBACK_KEYS` for rotation.

Checkpoints go through LangGraph's own `EncryptedSerializer` with `AesKeyring` as its
cipher (LangGraph's `CipherProtocol`): it encrypts with the current key and decrypts
with the current key or any fallback key. It writes AES-GCM (cipher name "aesgcm",
12-byte nonce + ciphertext + tag, from `cryptography`: about 1 us a value) and also
reads "aes", the AES-EAX format of LangGraph's `from_pycryptodome_aes` helper (through
pycryptodome, which that helper uses too; `cryptography` has no EAX mode), so
checkpoints encrypted by LangGraph's helper with the same key stay readable. EAX is not
written: pycryptodome's EAX costs about 140 us a value, and a run writes and reads dozens.

Our own JSON columns go through `JsonCodec` at the storage boundary (`EncryptedStorage`):
each sealed value becomes a string `"$enc:aesgcm:" + base64(nonce + ciphertext + tag)`
of its JSON text. What is sealed, and why (everything else stays plain, and searchable):

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
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from Crypto.Cipher import AES
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from langgraph.checkpoint.serde.base import CipherProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from robyn_server.errors import ApiError

KEY_ENV = "LANGGRAPH_AES_KEY"
FALLBACK_ENV = "LANGGRAPH_AES_FALLBACK_KEYS"
CIPHER_NAME = "aesgcm"  # what is written
EAX_CIPHER_NAME = "aes"  # LangGraph's from_pycryptodome_aes format: read only
SEALED_PREFIX = "$enc:"
# The run kwargs and cron payload keys that carry user content.
CONTENT_KEYS = ("input", "command", "config", "context")
THREAD_STATE_KEYS = ("values", "interrupts", "error")
_GCM_NONCE = 12
_EAX_NONCE = 16
_EAX_TAG = 16


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
    """LangGraph's cipher protocol over AES: encrypts with the current key (AES-GCM),
    decrypts with the current key or any fallback key (the one whose tag verifies)."""

    def __init__(self, key: bytes, fallback_keys: Sequence[bytes] = ()) -> None:
        self._keys = (key, *(k for k in fallback_keys if k != key))
        self._gcm = [AESGCM(k) for k in self._keys]

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(_GCM_NONCE)
        return CIPHER_NAME, nonce + self._gcm[0].encrypt(nonce, plaintext, None)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        if ciphername == CIPHER_NAME:
            nonce, body = ciphertext[:_GCM_NONCE], ciphertext[_GCM_NONCE:]
            for gcm in self._gcm:
                try:
                    return gcm.decrypt(nonce, body, None)
                except (InvalidTag, ValueError):  # another key's, or damaged
                    continue
        elif ciphername == EAX_CIPHER_NAME:
            nonce = ciphertext[:_EAX_NONCE]
            tag = ciphertext[_EAX_NONCE : _EAX_NONCE + _EAX_TAG]
            body = ciphertext[_EAX_NONCE + _EAX_TAG :]
            for key in self._keys:
                try:
                    return AES.new(key, AES.MODE_EAX, nonce=nonce).decrypt_and_verify(body, tag)
                except ValueError:  # the tag does not verify: another key, or damaged
                    continue
        else:
            raise EncryptionKeyError(f"stored data uses an unknown cipher {ciphername!r}")
        raise EncryptionKeyError(
            f"stored data cannot be decrypted with {KEY_ENV} (nor any of {FALLBACK_ENV}): "
            f"it was encrypted with another key, or is damaged. Set {KEY_ENV} to the key "
            f"it was written with, or list that key in {FALLBACK_ENV}."
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
        name, blob = self.keyring.encrypt(json.dumps(value, separators=(",", ":")).encode())
        return f"{SEALED_PREFIX}{name}:{base64.b64encode(blob).decode('ascii')}"

    def open(self, value: Any) -> Any:
        if not (isinstance(value, str) and value.startswith(SEALED_PREFIX)):
            return value
        if self.keyring is None:
            raise _missing_key()
        name, _, encoded = value[len(SEALED_PREFIX) :].partition(":")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise EncryptionKeyError("stored encrypted data is damaged") from None
        return json.loads(self.keyring.decrypt(name, blob))

    def seal_keys(self, doc: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
        if self.keyring is None:
            return doc
        return {k: self.seal(v) if k in keys else v for k, v in doc.items()}

    def open_keys(self, doc: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
        """`doc` with the sealed values of `keys` opened: `doc` itself when none is."""
        opened = None
        for key in keys:
            value = doc.get(key)
            if isinstance(value, str) and value.startswith(SEALED_PREFIX):
                if opened is None:
                    opened = dict(doc)
                opened[key] = self.open(value)
        return doc if opened is None else opened
