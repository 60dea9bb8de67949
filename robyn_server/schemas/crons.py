"""Request bodies of the cron endpoints.

A cron body is a run body (`RunFields`: what each tick's run does) plus when it runs.
Schedules and time zones are checked by the service (services/cron_schedule.py), whose
422 names the bad value, as the reference's does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field

from robyn_server.schemas.requests import (
    AssistantOrGraph,
    Body,
    Integer,
    Limit,
    Offset,
    SortOrder,
    Uuid,
)
from robyn_server.schemas.runs import RunFields

CronField = Literal[
    "cron_id",
    "assistant_id",
    "thread_id",
    "on_run_completed",
    "end_time",
    "schedule",
    "timezone",
    "created_at",
    "updated_at",
    "user_id",
    "payload",
    "next_run_date",
    "metadata",
    "enabled",
]
CronSortField = Literal[
    "cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at", "updated_at"
]


def _date_time_string(value: Any) -> Any:
    # Lax mode reads numbers as Unix times; the schema (and the SDK) say a string.
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date-time string")
    return value


# An ISO 8601 date-time string (JSON has no dates; strict mode would refuse the string).
# Without an offset it is read as UTC.
DateTime = Annotated[datetime, BeforeValidator(_date_time_string), Field(strict=False)]
OnRunCompleted = Literal["delete", "keep"]


class CronCreate(RunFields):
    """A cron: `POST /runs/crons` (a new thread per run) or on a thread."""

    assistant_id: AssistantOrGraph
    schedule: str = Field(
        description="Cron expression (minute hour day-of-month month day-of-week), e.g. "
        "'*/5 * * * *'; a sixth field adds seconds. Read in `timezone`."
    )
    timezone: str | None = Field(default=None, description="IANA time zone; UTC when null")
    end_time: DateTime | None = None
    enabled: bool = True
    # Stateless crons only: delete each run's thread afterwards, or keep it.
    on_run_completed: OnRunCompleted | None = None


class CronPatch(RunFields):
    """Any cron field; `end_time: null` clears the end time. An empty body is a 400;
    fields the server does not know are ignored (the cron is returned unchanged)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    schedule: str | None = None
    timezone: str | None = None
    end_time: DateTime | None = None
    enabled: bool | None = None
    on_run_completed: OnRunCompleted | None = None


class CronCount(Body):
    assistant_id: Uuid | None = None
    thread_id: Uuid | None = None
    enabled: bool | None = None
    metadata: dict[str, object] | None = None


class CronSearch(CronCount):
    limit: Integer = Limit
    offset: Integer = Offset
    sort_by: CronSortField = "created_at"
    sort_order: SortOrder = "desc"
    select: list[CronField] | None = None
