"""The name of a tick's execution: unique per schedule and tick, and a valid execution name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from fnflow.names import NAME
from fnflow.schedules.scheduler import execution_name

TICK = datetime(2024, 3, 1, 4, 0, 5, tzinfo=UTC)


def test_schedule_name_and_utc_tick() -> None:
    assert execution_name("nightly", TICK) == "nightly-20240301T040005Z"
    shanghai = TICK.astimezone(timezone(timedelta(hours=8)))
    assert execution_name("nightly", shanghai) == "nightly-20240301T040005Z"


def test_a_long_schedule_name_is_shortened_and_stays_unique() -> None:
    a, b = "s" * 127 + "a", "s" * 127 + "b"
    names = {execution_name(a, TICK), execution_name(b, TICK)}
    assert len(names) == 2
    for name in names:
        assert len(name) == 128 and NAME.match(name) and name.endswith("-20240301T040005Z")
    assert execution_name("s" * 111, TICK) == "s" * 111 + "-20240301T040005Z"  # fits: kept whole
