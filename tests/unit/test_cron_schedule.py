"""When crons run: schedule and zone checks, next times across DST, and tick runs."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from robyn_server.errors import ValidationFailed
from robyn_server.services.cron_schedule import check_schedule, check_timezone, next_run
from robyn_server.services.crons import tick_run

NEW_YORK = ZoneInfo("America/New_York")


def times(schedule: str, zone, start: datetime, n: int) -> list[str]:
    """`n` successive ticks from `start`, each computed from the previous one, in UTC."""
    out, at = [], start
    for _ in range(n):
        at = next_run(schedule, zone, at)
        out.append(at.strftime("%m-%d %H:%M"))
    return out


def test_a_daily_time_keeps_its_wall_clock_hour_across_both_dst_changes() -> None:
    # 09:00 New York is 14:00 UTC in winter (EST) and 13:00 UTC in summer (EDT).
    spring = times("0 9 * * *", NEW_YORK, datetime(2026, 3, 6, 12, tzinfo=UTC), 3)
    assert spring == ["03-06 14:00", "03-07 14:00", "03-08 13:00"]
    autumn = times("0 9 * * *", NEW_YORK, datetime(2026, 10, 30, 12, tzinfo=UTC), 3)
    assert autumn == ["10-30 13:00", "10-31 13:00", "11-01 14:00"]


def test_a_skipped_time_fires_once_right_after_the_jump() -> None:
    # 2026-03-08 02:00 EST jumps to 03:00 EDT: 02:30 does not exist that day.
    ticks = times("30 2 * * *", NEW_YORK, datetime(2026, 3, 7, 12, tzinfo=UTC), 3)
    assert ticks == ["03-08 07:00", "03-09 06:30", "03-10 06:30"]


def test_a_repeated_time_fires_once_but_hourly_schedules_keep_every_hour() -> None:
    # 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:30 happens twice.
    daily = times("30 1 * * *", NEW_YORK, datetime(2026, 10, 31, 12, tzinfo=UTC), 2)
    assert daily == ["11-01 05:30", "11-02 06:30"]
    hourly = times("0 * * * *", NEW_YORK, datetime(2026, 11, 1, 4, tzinfo=UTC), 4)
    assert hourly == ["11-01 05:00", "11-01 06:00", "11-01 07:00", "11-01 08:00"]


def test_times_are_utc_and_strictly_after_the_start() -> None:
    start = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    tick = next_run("0 0 * * *", UTC, start)
    assert tick == datetime(2026, 1, 2, tzinfo=UTC) and tick.tzinfo is UTC
    assert next_run("* * * * * */10", UTC, start) == datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert next_run("@hourly", UTC, start) == datetime(2026, 1, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("schedule", ["", "   ", "nope", "61 * * * *", "* * *", "* * * * 8"])
def test_invalid_schedules_are_named_in_a_422(schedule: str) -> None:
    with pytest.raises(ValidationFailed, match="Invalid cron schedule"):
        check_schedule(schedule)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", "", "New York"])
def test_invalid_zones_are_named_in_a_422(zone: str) -> None:
    with pytest.raises(ValidationFailed, match="Invalid timezone"):
        check_timezone(zone)


def test_no_zone_is_utc() -> None:
    assert check_timezone(None) is UTC
    assert check_timezone("Europe/Paris") == ZoneInfo("Europe/Paris")


def test_a_tick_run_carries_the_payload_and_both_metadata() -> None:
    cron = {
        "assistant_id": "fe096781-5601-53d2-b2f6-0d3403f7e9ca",
        "thread_id": None,
        "on_run_completed": "keep",
        "metadata": {"team": "a", "over": "cron"},
        "payload": {
            "input": {"n": 1},
            "metadata": {"over": "payload"},
            "config": {"configurable": {"cron_id": "c1"}},
            "schedule": "* * * * *",
            "end_time": "2030-01-01T00:00:00+00:00",
            "multitask_strategy": "reject",
        },
    }
    run = tick_run(cron)
    assert run.input == {"n": 1}
    assert run.metadata == {"team": "a", "over": "payload"}
    assert run.config == {"configurable": {"cron_id": "c1"}}
    assert run.on_completion == "keep"
    assert run.multitask_strategy == "reject"
    on_thread = tick_run({**cron, "thread_id": "t", "on_run_completed": None})
    assert on_thread.on_completion == "delete"  # the default; unused on a thread
