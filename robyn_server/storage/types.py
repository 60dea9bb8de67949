"""What storage callers and both backends share: scopes, pages, records' vocabularies,
the errors storage raises, and the pure helpers (UUIDs, paging, JSON containment)."""

from __future__ import annotations

import uuid
from abc import ABCMeta
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from robyn_server.errors import ValidationFailed
from robyn_server.storage.filters import MetadataFilter

# Re-exported: the backends and the contract tests find it with the other helpers.
from robyn_server.storage.json_match import json_contains as json_contains

IfExists = Literal["raise", "do_nothing"]


SortOrder = Literal["asc", "desc"]


ASSISTANT_SORT_COLUMNS = ("assistant_id", "created_at", "updated_at", "name", "graph_id")


THREAD_SORT_COLUMNS = ("thread_id", "status", "created_at", "updated_at", "state_updated_at")


THREAD_STATUSES = ("idle", "busy", "interrupted", "error")


CRON_SORT_COLUMNS = (
    "cron_id",
    "assistant_id",
    "thread_id",
    "next_run_date",
    "end_time",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose rows a storage call may read and whom new rows belong to.

    `owner=None` means no owner isolation: every caller sees every owner's rows. With an
    owner, writes stamp it on new rows and reads only return rows stamped with it.

    `metadata_filter` is what an auth handler allows (see storage/filters.py): reads,
    updates and deletes only reach rows whose metadata matches it, a run through its
    thread's metadata. Both backends apply it where they select rows (in SQL on
    PostgreSQL), so no call site can forget it.
    """

    owner: str | None = None
    metadata_filter: MetadataFilter | None = None


ANONYMOUS = Scope()


def cron_owner(scope: Scope, run_as: dict[str, Any] | None) -> str | None:
    """Who owns a new cron (its `user_id`): the scope's owner, else the identity of the
    user its runs run as (with custom auth, whoever created it)."""
    if scope.owner is not None or not run_as:
        return scope.owner
    identity = run_as.get("identity")
    return identity if isinstance(identity, str) else None


@dataclass(slots=True)
class Page:
    """One page of a search: the rows, and the offset of the next page if there is one."""

    items: list[dict[str, Any]] = field(default_factory=list)
    next_offset: int | None = None


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class StorageConflict(Exception):
    """A row with that id already exists (create with if_exists="raise")."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid4() -> str:
    return str(uuid.uuid4())


def canonical_uuid(value: Any) -> str | None:
    """The canonical text form of a UUID (lowercase, hyphenated), or None if `value` is
    not one. Both backends key rows by this form, so `ABC...` and `abc...` are one id."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def parse_uuid(value: Any, what: str) -> str:
    """`canonical_uuid` for ids a client sent: a malformed one is a 422 naming the field."""
    canonical = canonical_uuid(value)
    if canonical is None:
        raise ValidationFailed(f"Invalid {what}: must be a UUID")
    return canonical


def require_uuid(value: Any, what: str) -> str:
    """`canonical_uuid` for ids a write is about to store: a malformed one is a bug in
    the caller (routes validate ids first), so it raises ValueError."""
    canonical = canonical_uuid(value)
    if canonical is None:
        raise ValueError(f"{what} must be a UUID, got {value!r}")
    return canonical


def check_paging(limit: int, offset: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if offset < 0:
        raise ValueError(f"offset must not be negative, got {offset}")


def check_sort(sort_by: str, sort_order: str, allowed: tuple[str, ...]) -> None:
    """Reject sort keys outside the whitelist: Postgres turns them into identifiers."""
    if sort_by not in allowed:
        raise ValueError(f"cannot sort by {sort_by!r}; expected one of {', '.join(allowed)}")
    if sort_order not in ("asc", "desc"):
        raise ValueError(f"sort_order must be 'asc' or 'desc', got {sort_order!r}")


def check_status(status: str) -> None:
    if status not in THREAD_STATUSES:
        raise ValueError(f"status must be one of {', '.join(THREAD_STATUSES)}, got {status!r}")


def next_offset(offset: int, limit: int, fetched: int) -> int | None:
    """Backends fetch `limit + 1` rows; a surplus row means another page exists."""
    return offset + limit if fetched > limit else None


RUN_STATUSES = ("pending", "running", "success", "error", "timeout", "interrupted")


INFLIGHT_STATUSES = ("pending", "running")


RunStatus = Literal["pending", "running", "success", "error", "timeout", "interrupted"]


class ThreadBusy(Exception):
    """`run_create` with `reject_if_inflight`: the thread already has a pending or running
    run. Nothing was written."""


@dataclass(frozen=True, slots=True)
class CronTick:
    """One scheduled time of a cron, as the scheduler claims it: the cron, the
    `next_run_date` it read (`due`), and the one to store in its place (`following`).

    Storage moves `next_run_date` from `due` to `following` only if it still is `due`
    and the cron is enabled and not past its end, so of several schedulers reading the
    same due cron exactly one claims the tick."""

    cron_id: str
    due: datetime
    following: datetime
    now: datetime


class CronTickTaken(Exception):
    """A tick could not be claimed: another scheduler claimed it, or the cron changed
    (disabled, rescheduled, ended, deleted) since it was read. Nothing was written."""


class StorageUnavailable(Exception, metaclass=ABCMeta):
    """The database could not be reached, or had no connection to spare: nothing is
    wrong with the request, and a retry may succeed (the HTTP layer answers 503).

    The Postgres backend registers its driver's errors as virtual subclasses, because
    LangGraph's checkpointer and store raise them from code we do not wrap:
    `isinstance(exc, StorageUnavailable)` recognises them all. (`except` does not
    consult virtual subclasses; code that retries uses `Storage.transient_errors`.)"""


@dataclass(frozen=True, slots=True)
class RunFence:
    """Who may still write a running run's outcome: the worker that claimed it, for the
    attempt it claimed. Once the run was re-queued (its worker's lease expired) or
    re-claimed, writes fenced with an older pair change nothing."""

    run_id: str
    worker_id: str
    attempt: int


class LeaseLost(Exception):
    """A fenced write found the run no longer held by this worker and attempt: another
    process has taken it over. Nothing was written."""
