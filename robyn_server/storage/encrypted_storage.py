# mypy: disable-error-code="safe-super"
# (EncryptedStorage is only ever mixed in front of a concrete Storage: see `encrypted`.)
"""`EncryptedStorage`: either storage backend, with user content sealed at its boundary.

Applied as a mixin over the concrete class (`encrypted(PostgresStorage)`), so both
backends seal and open exactly the same fields (listed in storage/encryption.py) and
the backends themselves stay unaware of encryption. Without a key the server uses the
plain class on memory and, on Postgres, this mixin with a key-less codec that only
detects sealed data (a clear EncryptionKeyError instead of ciphertext in answers).
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from robyn_server.errors import ValidationFailed
from robyn_server.storage.base import Storage
from robyn_server.storage.encryption import (
    CONTENT_KEYS,
    KEY_ENV,
    THREAD_STATE_KEYS,
    JsonCodec,
)
from robyn_server.storage.types import UNSET, Page

THREAD_KEYS = (*THREAD_STATE_KEYS, "config")

S = TypeVar("S", bound=Storage)


class EncryptedStorage(Storage):
    """Seals run kwargs, cron payloads and thread state on the way in, opens them on the
    way out. Mixed in before a concrete Storage class; `codec` is set by `encrypted`."""

    codec: JsonCodec

    # -- helpers ----------------------------------------------------------------------

    def _open_field(self, row: dict[str, Any] | None, field: str) -> dict[str, Any] | None:
        if row is None or not isinstance(doc := row.get(field), dict):
            return row
        opened = self.codec.open_keys(doc, CONTENT_KEYS)
        # Nothing sealed (no key, or data from before the key): the row as it came.
        return row if opened is doc else {**row, field: opened}

    def _run(self, row: dict[str, Any] | None) -> dict[str, Any] | None:
        return self._open_field(row, "kwargs")

    def _cron(self, row: dict[str, Any] | None) -> dict[str, Any] | None:
        return self._open_field(row, "payload")

    def _thread(self, row: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if row is None else self.codec.open_keys(row, THREAD_KEYS)

    def _no_values_filter(self, values: Any) -> None:
        if values and self.codec.active:
            raise ValidationFailed(
                f"searching threads by values is not available while encryption at rest "
                f"is on ({KEY_ENV} is set): thread values are stored encrypted. Search by "
                f"metadata instead."
            )

    # -- threads ----------------------------------------------------------------------

    async def thread_create(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return cast(dict[str, Any], self._thread(await super().thread_create(*args, **kwargs)))

    async def thread_get(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self._thread(await super().thread_get(*args, **kwargs))

    async def thread_update(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self._thread(await super().thread_update(*args, **kwargs))

    async def thread_copy(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self._thread(await super().thread_copy(*args, **kwargs))

    async def thread_search(self, *args: Any, **kwargs: Any) -> Page:
        self._no_values_filter(kwargs.get("values"))
        page = await super().thread_search(*args, **kwargs)
        items = [cast(dict[str, Any], self._thread(row)) for row in page.items]
        return Page(items, page.next_offset)

    async def thread_count(self, *args: Any, **kwargs: Any) -> int:
        self._no_values_filter(kwargs.get("values"))
        return await super().thread_count(*args, **kwargs)

    async def thread_set_state(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        for key in THREAD_KEYS:
            if kwargs.get(key, UNSET) is not UNSET:
                if key == "interrupts" and kwargs[key] is None:
                    kwargs[key] = {}  # as the backends spell "no interrupts"
                kwargs[key] = self.codec.seal(kwargs[key])
        return self._thread(await super().thread_set_state(*args, **kwargs))

    # -- runs -------------------------------------------------------------------------

    async def run_create(
        self, *args: Any, **kwargs: Any
    ) -> tuple[dict[str, Any], list[str]] | None:
        kwargs["kwargs"] = self.codec.seal_keys(kwargs["kwargs"], CONTENT_KEYS)
        if kwargs.get("thread_config") is not None:
            kwargs["thread_config"] = self.codec.seal(kwargs["thread_config"])
        created = await super().run_create(*args, **kwargs)
        if created is None:
            return None
        row, others = created
        return cast(dict[str, Any], self._run(row)), others

    async def run_get(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self._run(await super().run_get(*args, **kwargs))

    async def run_search(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = await super().run_search(*args, **kwargs)
        return [cast(dict[str, Any], self._run(row)) for row in rows]

    async def run_inflight(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = await super().run_inflight(*args, **kwargs)
        return [cast(dict[str, Any], self._run(row)) for row in rows]

    async def run_claim(
        self, thread_id: str, *, worker_id: str | None = None
    ) -> dict[str, Any] | None:
        return self._run(await super().run_claim(thread_id, worker_id=worker_id))

    async def run_set_status(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self._run(await super().run_set_status(*args, **kwargs))

    # -- crons ------------------------------------------------------------------------

    async def cron_create(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        kwargs["payload"] = self.codec.seal_keys(kwargs["payload"], CONTENT_KEYS)
        if run_as := kwargs.get("run_as"):
            # Everything the auth handler returned about the user (tokens, perhaps) but
            # the identity, which is the cron's owner and must stay readable.
            kwargs["run_as"] = self.codec.seal_keys(run_as, _sealed_user_keys(run_as))
        return self._cron(await super().cron_create(*args, **kwargs))

    async def cron_get(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        return self._cron(await super().cron_get(*args, **kwargs))

    async def cron_update(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        if kwargs.get("payload") is not None:
            kwargs["payload"] = self.codec.seal_keys(kwargs["payload"], CONTENT_KEYS)
        return self._cron(await super().cron_update(*args, **kwargs))

    async def cron_search(self, *args: Any, **kwargs: Any) -> Page:
        page = await super().cron_search(*args, **kwargs)
        items = [cast(dict[str, Any], self._cron(row)) for row in page.items]
        return Page(items, page.next_offset)

    async def cron_due(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = [
            cast(dict[str, Any], self._cron(row)) for row in await super().cron_due(*args, **kwargs)
        ]
        for row in rows:
            if isinstance(run_as := row.get("run_as"), dict):
                row["run_as"] = self.codec.open_keys(run_as, _sealed_user_keys(run_as))
        return rows


def _sealed_user_keys(user: dict[str, Any]) -> list[str]:
    return [key for key in user if key != "identity"]


def encrypted(storage_class: type[S], codec: JsonCodec) -> type[S]:
    """`storage_class` with EncryptedStorage mixed in front of it, sealing with `codec`."""
    name = f"Encrypted{storage_class.__name__}"
    mixed = type(name, (EncryptedStorage, storage_class), {"codec": codec})
    return cast(type[S], mixed)
