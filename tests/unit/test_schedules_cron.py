"""FnF's CronExpression: accepted forms, next ticks (time zones, DST), missed ticks, and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fnflow.errors import InvalidArgument
from fnflow.schedules.cron import Every, Timing, parse

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def ticks(timing: Timing, start: datetime, count: int) -> list[datetime]:
    found = []
    for _ in range(count):
        start = timing.next_after(start)
        found.append(start)
    return found


def local(instants: list[datetime], zone: ZoneInfo = BERLIN) -> list[str]:
    return [t.astimezone(zone).strftime("%m-%d %H:%M%z") for t in instants]


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        ("0 */5 * * * *", utc(2024, 3, 1, 12, 3, 10), [utc(2024, 3, 1, 12, 5), utc(2024, 3, 1, 12, 10)]),
        ("30 15 10 * * *", utc(2024, 3, 1, 12), [utc(2024, 3, 2, 10, 15, 30), utc(2024, 3, 3, 10, 15, 30)]),
        ("0 5/20 * * * *", utc(2024, 3, 1, 12, 6), [utc(2024, 3, 1, 12, 25), utc(2024, 3, 1, 12, 45)]),
        ("0 0 12 ? jan,JUL *", utc(2024, 3, 1), [utc(2024, 7, 1, 12), utc(2024, 7, 2, 12)]),
        ("0 0 0 ? * fri-SAT", utc(2024, 3, 1), [utc(2024, 3, 2), utc(2024, 3, 8)]),  # 03-01 is a Friday
        ("0 0 0 ? * 0", utc(2024, 3, 1), [utc(2024, 3, 3), utc(2024, 3, 10)]),  # 0 is Sunday
        ("0 30 4 ? * MON-FRI", utc(2024, 3, 1, 5), [utc(2024, 3, 4, 4, 30), utc(2024, 3, 5, 4, 30)]),
        ("0 0 0 1 * MON", utc(2024, 3, 1, 1), [utc(2024, 3, 4), utc(2024, 3, 11)]),  # day fields: either
        ("0 0 0 29 2 ?", utc(2024, 3, 1), [utc(2028, 2, 29), utc(2032, 2, 29)]),
        ("  0  0   12 * * *  ", utc(2024, 3, 1, 12), [utc(2024, 3, 2, 12), utc(2024, 3, 3, 12)]),
    ],
)
def test_next_ticks_in_utc(expression: str, start: datetime, expected: list[datetime]) -> None:
    assert ticks(parse(expression), start, len(expected)) == expected


def test_steps_over_ranges_as_in_the_fnf_guide() -> None:
    timing = parse("0 0/15 4-5 ? * MON-FRI")
    found = ticks(timing, utc(2024, 3, 1, 5, 40), 3)  # Friday 05:40
    assert found == [utc(2024, 3, 1, 5, 45), utc(2024, 3, 4, 4, 0), utc(2024, 3, 4, 4, 15)]


def test_a_tick_exactly_at_the_start_is_not_next() -> None:
    assert parse("0 * * * * *").next_after(utc(2024, 3, 1, 12, 0)) == utc(2024, 3, 1, 12, 1)
    assert parse("0 * * * * *").next_after(utc(2024, 3, 1, 11, 59, 59, 999999)) == utc(2024, 3, 1, 12)


@pytest.mark.parametrize(
    ("expression", "time_zone"),
    [
        ("CRON_TZ=Asia/Shanghai 0 0 12 * * *", ""),
        ("0 0 12 * * *", "Asia/Shanghai"),
        ("CRON_TZ=Asia/Shanghai 0 0 12 * * *", "Asia/Shanghai"),
    ],
)
def test_a_zone_from_the_prefix_or_the_schedule(expression: str, time_zone: str) -> None:
    assert ticks(parse(expression, time_zone), utc(2024, 3, 1), 2) == [utc(2024, 3, 1, 4), utc(2024, 3, 2, 4)]


def test_spring_forward_a_missing_time_fires_as_if_the_clock_had_not_jumped() -> None:
    daily = parse("0 30 2 * * *", "Europe/Berlin")  # 2024-03-31 02:00 CET became 03:00 CEST
    assert local(ticks(daily, utc(2024, 3, 29, 12), 3)) == [
        "03-30 02:30+0100",
        "03-31 03:30+0200",
        "04-01 02:30+0200",
    ]
    hourly = parse("0 0 * * * *", "Europe/Berlin")  # 02:00 does not exist; 03:00 fires once
    assert local(ticks(hourly, utc(2024, 3, 30, 23, 30), 3)) == [
        "03-31 01:00+0100",
        "03-31 03:00+0200",
        "03-31 04:00+0200",
    ]


def test_fall_back_a_repeated_time_fires_once_at_its_first_occurrence() -> None:
    daily = parse("0 30 2 * * *", "Europe/Berlin")  # 2024-10-27 03:00 CEST became 02:00 CET
    found = ticks(daily, utc(2024, 10, 26, 12), 3)
    assert local(found) == ["10-27 02:30+0200", "10-28 02:30+0100", "10-29 02:30+0100"]
    assert found[1] - found[0] == timedelta(hours=25)
    hourly = parse("0 0 * * * *", "Europe/Berlin")
    assert local(ticks(hourly, utc(2024, 10, 26, 22, 30), 3)) == [
        "10-27 01:00+0200",
        "10-27 02:00+0200",
        "10-27 03:00+0100",
    ]
    # Asked from inside the repeated hour, the next tick is still after that moment.
    inside = utc(2024, 10, 27, 1, 10)  # 02:10 CET, the second time 02:10 comes round
    assert local([hourly.next_after(inside)]) == ["10-27 03:00+0100"]


def test_latest_missed_tick_is_the_one_fired() -> None:
    minutely = parse("0 * * * * *")
    due = utc(2024, 3, 1, 12)
    assert minutely.latest(due, utc(2024, 3, 1, 12, 0, 0, 300000)) == due  # on time
    assert minutely.latest(due, utc(2024, 3, 1, 13, 7, 30)) == utc(2024, 3, 1, 13, 7)  # down for an hour
    assert minutely.latest(due, utc(2024, 3, 1, 13, 7)) == utc(2024, 3, 1, 13, 7)  # exactly on a tick
    daily = parse("CRON_TZ=Europe/Berlin 0 30 2 * * *")
    assert local([daily.latest(utc(2024, 3, 20, 1, 30), utc(2024, 3, 31, 12))]) == ["03-31 03:30+0200"]


def test_every_counts_from_the_start_and_skips_missed_intervals() -> None:
    every = parse("@every 5m")
    assert every == Every(timedelta(minutes=5))
    assert every.next_after(utc(2024, 3, 1, 12, 0, 0, 700000)) == utc(2024, 3, 1, 12, 5)
    assert every.latest(utc(2024, 3, 1, 12, 5), utc(2024, 3, 1, 12, 21)) == utc(2024, 3, 1, 12, 20)
    assert every.latest(utc(2024, 3, 1, 12, 5), utc(2024, 3, 1, 12, 5, 0, 1)) == utc(2024, 3, 1, 12, 5)
    assert parse("@every 1h30m") == Every(timedelta(minutes=90))
    assert parse("@EVERY 90s") == Every(timedelta(seconds=90))
    assert parse("CRON_TZ=Asia/Shanghai @every 2h") == Every(timedelta(hours=2))


def test_the_minimum_interval_is_a_second_unless_changed() -> None:
    for often in ("*/2 * * * * *", "0,30 * * * * *", "* * * * * *", "@every 2s", "@every 1s"):
        parse(often)
    with pytest.raises(InvalidArgument, match="the interval is 0 s; the minimum is 1 s"):
        parse("@every 0s")
    assert parse("@every 2s") == Every(timedelta(seconds=2))
    for too_often in ("*/2 * * * * *", "0,30 * * * * *", "* * * * * *", "@every 30s", "@every 59s"):
        with pytest.raises(InvalidArgument, match="minimum"):
            parse(too_often, min_interval=60)
    assert ticks(parse("*/2 * * * * *", min_interval=1), utc(2024, 3, 1), 2) == [
        utc(2024, 3, 1, 0, 0, 2),
        utc(2024, 3, 1, 0, 0, 4),
    ]
    parse("0,30 * * * * *", min_interval=30)
    with pytest.raises(InvalidArgument, match="2 s apart; the minimum interval is 5 s"):
        parse("*/2 * * * * *", min_interval=5)
    with pytest.raises(InvalidArgument, match="the interval is 0 s"):
        parse("@every 0m", min_interval=0)


@pytest.mark.parametrize(
    ("expression", "time_zone", "message"),
    [
        ("* * * * *", "", "has 5 field\\(s\\); it needs 6: Seconds Minutes Hours"),
        ("0 0 0 1 1 * 2030", "", "has 7 field\\(s\\)"),
        ("", "", "has 1 field\\(s\\)"),
        ("0 60 * * * *", "", "Minutes field '60': 60 is out of range 0-59"),
        ("0 0 24 * * *", "", "Hours field '24': 24 is out of range 0-23"),
        ("0 0 0 0 * *", "", "Day-of-month field '0': 0 is out of range 1-31"),
        ("0 0 0 * 13 *", "", "Month field '13': 13 is out of range 1-12"),
        ("0 0 0 * FOO *", "", "Month field 'FOO': 'FOO' is not a number 1-12 or a name JAN-DEC"),
        ("0 0 0 ? * 7", "", "Day-of-week field '7': 7 is out of range 0-6"),
        ("0 0 0 ? * MON-FOO", "", "Day-of-week field 'MON-FOO': 'FOO' is not a number 0-6 or a name SUN-SAT"),
        ("0 ? * * * *", "", "Minutes field '\\?': '\\?' is only allowed in Day-of-month and Day-of-week"),
        ("0 30-10 * * * *", "", "Minutes field '30-10': the range '30-10' starts after it ends"),
        ("0 */0 * * * *", "", "Minutes field '\\*/0': the step in '\\*/0' must be a positive number"),
        ("0 1,,2 * * * *", "", "Minutes field '1,,2': '' is not a number 0-59"),
        ("0 0 0 L * ?", "", "Day-of-month field 'L'"),
        ("0 0 0 31 2 ?", "", "names no date that exists: it never fires"),
        ("@daily", "", "the only descriptor is @every"),
        ("@every 5", "", "the only descriptor is @every"),
        ("0 0 12 * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("CRON_TZ=Nowhere 0 0 12 * * *", "", "unknown time zone 'Nowhere'"),
        ("CRON_TZ=Asia/Shanghai 0 0 12 * * *", "UTC", "CRON_TZ=Asia/Shanghai but timeZone is 'UTC'"),
    ],
)
def test_errors_name_the_field_and_the_problem(expression: str, time_zone: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse(expression, time_zone)


ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
EXPRESSIONS = st.sampled_from(
    ["0 * * * * *", "0 30 * * * *", "15 */7 1-3 * * *", "0 0 2 * * 0", "0 45 1 ? * *"]
)
INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@given(ZONES, EXPRESSIONS, INSTANTS)
def test_ticks_move_forward_and_the_latest_of_a_tick_is_itself(
    zone: str, expression: str, at: datetime
) -> None:
    timing = parse(expression, zone)
    first = timing.next_after(at)
    second = timing.next_after(first)
    assert at < first < second and first.microsecond == 0
    assert timing.latest(first, first) == first
    assert timing.latest(first, second - timedelta(microseconds=1)) == first
    assert timing.latest(first, second) == second
