"""When a cron runs: schedules and time zones, checked, and the next time computed.

Schedules are croniter expressions (five fields; a sixth adds seconds; `@daily` and the
other macros), read in the cron's IANA time zone (UTC when it has none), and every
computed time is stored in UTC.

Daylight saving time, as classic cron handles it:
- a time the clocks skip (02:30 when they jump from 02:00 to 03:00) fires once, at the
  first moment after the jump;
- a time the clocks repeat (01:30 when they fall back from 02:00 to 01:00) fires once,
  at its first occurrence, when the schedule names its hours. A schedule for every hour
  (`*` or `*/n` in the hour field) keeps running by the elapsed hour through the
  repeated one.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from robyn_server.errors import ValidationFailed

# Macros whose hours are fixed (they name one); @hourly runs by the elapsed hour.
_FIXED_HOUR_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight"}
)
# Far more than any expression needs to step past one repeated hour.
_MAX_STEPS = 1000


def check_schedule(schedule: str) -> str:
    if not schedule.strip() or not croniter.is_valid(schedule):
        raise ValidationFailed(
            f"Invalid cron schedule: {schedule!r}. Use the standard cron format: minute "
            "hour day-of-month month day-of-week, e.g. '*/5 * * * *' for every 5 minutes."
        )
    return schedule


def check_timezone(name: str | None) -> tzinfo:
    """The zone named `name` (UTC for None), or a 422 naming it."""
    if name is None:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(
            f"Invalid timezone: {name!r}. Use an IANA time zone name, e.g. 'America/New_York'."
        ) from None


def _fixed_hours(schedule: str) -> bool:
    fields = schedule.split()
    if len(fields) == 1:
        return fields[0].lower() in _FIXED_HOUR_MACROS
    hour = fields[1]
    return not (hour == "*" or hour.startswith("*/"))


def next_run(schedule: str, zone: tzinfo, after: datetime) -> datetime:
    """The first time strictly after `after` at which `schedule` fires in `zone`, in UTC."""
    times = croniter(schedule, after.astimezone(zone))
    fixed_hours = _fixed_hours(schedule)
    for _ in range(_MAX_STEPS):
        local: datetime = times.get_next(datetime).astimezone(zone)
        # `fold=1` marks the second pass through a repeated wall-clock time.
        repeated = local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()
        if not (fixed_hours and repeated):
            return local.astimezone(UTC)
    raise ValidationFailed(f"Cron schedule {schedule!r} has no next time")
