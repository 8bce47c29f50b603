"""FnF's ``CronExpression``: check it, and compute when a schedule fires (pure: no clock, no I/O).

Accepted, as Serverless Workflow documents them (its format is Go's robfig/cron with seconds)::

    [CRON_TZ=<IANA zone> ]Seconds Minutes Hours Day-of-month Month Day-of-week
    @every <duration>                        e.g. @every 5m, @every 90m, @every 1h30m

Fields take numbers, ``*``, ``a-b``, ``a,b``, ``*/n``, ``a/n``, ``a-b/n``; Month also JAN-DEC,
Day-of-week 0-6 or SUN-SAT (0 is Sunday), and both day fields ``?`` (any day). Without ``CRON_TZ``
the expression is read in the schedule's time zone, UTC by default. The minimum interval is one
minute, so by default Seconds is a single number, as FnF requires.

Daylight-saving time follows RFC 5545 (and JavaScript's Temporal): the expression names
wall-clock times; a time that occurs twice (autumn) fires once, at its first occurrence; a time
that does not exist (spring) fires as if the clock had not jumped (02:30 becomes 03:30). So
every matching wall-clock time fires exactly once. croniter does the calendar arithmetic on
naive wall-clock times; ``zoneinfo`` maps them to instants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from fnflow.errors import InvalidArgument

MINIMUM_INTERVAL = 1.0  # seconds: the shortest interval a schedule may have (FnF's is a minute)
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)  # a fixed start to check that an expression ever fires
_EVERY = re.compile(r"@every\s+((?:\d+[hms])+)", re.IGNORECASE)
_PART = re.compile(r"(\d+)([hms])", re.IGNORECASE)
_SECONDS_PER = {"h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i
    any_day: bool = False  # '?' allowed


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_FIELDS = (
    _Field("Seconds", 0, 59),
    _Field("Minutes", 0, 59),
    _Field("Hours", 0, 23),
    _Field("Day-of-month", 1, 31, any_day=True),
    _Field("Month", 1, 12, _MONTHS),
    _Field("Day-of-week", 0, 6, _DAYS, any_day=True),
)


@dataclass(frozen=True)
class Cron:
    """A six-field expression over wall-clock time in ``zone``."""

    expression: str  # croniter's form: numbers only, seconds first
    zone: ZoneInfo

    def next_after(self, instant: datetime) -> datetime:
        """The first tick strictly after ``instant`` (aware; returned in UTC, whole seconds)."""
        wall = instant.astimezone(self.zone).replace(tzinfo=None, microsecond=0)
        ticks = croniter(self.expression, wall, second_at_beginning=True)
        while True:
            tick = self._instant(ticks.get_next(datetime))
            if tick > instant:  # skips the second pass through a repeated hour
                return tick

    def latest(self, due: datetime, now: datetime) -> datetime:
        """The last tick in [``due``, ``now``]: the one tick fired after missing several."""
        wall = now.astimezone(self.zone).replace(tzinfo=None, microsecond=0) + timedelta(seconds=1)
        ticks = croniter(self.expression, wall, second_at_beginning=True)
        while True:
            tick = self._instant(ticks.get_prev(datetime))
            if tick <= now:
                return max(tick, due)

    def _instant(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)


@dataclass(frozen=True)
class Every:
    """``@every``: a fixed interval, counted from when the schedule was (re)created."""

    interval: timedelta

    def next_after(self, instant: datetime) -> datetime:
        return instant.astimezone(UTC).replace(microsecond=0) + self.interval

    def latest(self, due: datetime, now: datetime) -> datetime:
        return due + max(0, (now - due) // self.interval) * self.interval


Timing = Cron | Every


def _zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (empty: UTC); InvalidArgument if there is no such zone."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(
            f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai or UTC"
        ) from None


def parse(text: str, time_zone: str = "", *, min_interval: float = MINIMUM_INTERVAL) -> Timing:
    """Check a CronExpression; InvalidArgument names the field and the problem.

    ``time_zone`` is the schedule's zone; ``CRON_TZ=`` in the expression must agree with it.
    ``min_interval`` (seconds) is FnF's one minute unless a test server lowers it.
    """
    body = " ".join(text.split())
    if body.upper().startswith("CRON_TZ="):
        prefix, _, body = body.partition(" ")
        named = prefix.partition("=")[2]
        if time_zone and time_zone != named:
            raise InvalidArgument(
                f"cronExpression says CRON_TZ={named} but timeZone is {time_zone!r}: give one of them"
            )
        time_zone = named
    zone = _zone(time_zone)
    every = _EVERY.fullmatch(body)
    if every:
        return _every(body, every.group(1), min_interval)
    if body.startswith("@"):
        raise InvalidArgument(f"cronExpression {text!r}: the only descriptor is @every, as in @every 5m")
    fields = body.split(" ")
    if len(fields) != len(_FIELDS):
        raise InvalidArgument(
            f"cronExpression {text!r} has {len(fields)} field(s); it needs 6: "
            "Seconds Minutes Hours Day-of-month Month Day-of-week (e.g. 0 */5 * * * *)"
        )
    parsed: list[tuple[str, set[int]]] = []
    for spec, value in zip(_FIELDS, fields, strict=True):
        try:
            parsed.append(_field(spec, value))
        except ValueError as e:
            raise InvalidArgument(f"cronExpression {text!r}: {spec.name} field {value!r}: {e}") from None
    gap = _shortest_gap(parsed[0][1])
    if gap < min_interval:
        raise InvalidArgument(
            f"cronExpression {text!r}: Seconds field {fields[0]!r} fires {gap} s apart; the minimum "
            f"interval is {min_interval:g} s, so Seconds must be one number 0-59"
        )
    cron = Cron(" ".join(normal for normal, _ in parsed), zone)
    try:
        cron.next_after(_REFERENCE)
    except CroniterBadDateError:
        raise InvalidArgument(f"cronExpression {text!r} names no date that exists: it never fires") from None
    return cron


def _every(text: str, duration: str, min_interval: float) -> Every:
    seconds = sum(int(n) * _SECONDS_PER[unit.lower()] for n, unit in _PART.findall(duration))
    if seconds < max(min_interval, 1):
        raise InvalidArgument(
            f"cronExpression {text!r}: the interval is {seconds} s; the minimum is {min_interval:g} s"
        )
    return Every(timedelta(seconds=seconds))


def _field(spec: _Field, text: str) -> tuple[str, set[int]]:
    """One field in croniter's form (numbers, ``*``), and the values it selects."""
    normal: list[str] = []
    values: set[int] = set()
    for item in text.split(","):
        item_normal, item_values = _item(spec, item)
        normal.append(item_normal)
        values |= item_values
    return ",".join(normal), values


def _item(spec: _Field, item: str) -> tuple[str, set[int]]:
    span, slash, step_text = item.partition("/")
    if span == "?" and not spec.any_day:
        raise ValueError("'?' is only allowed in Day-of-month and Day-of-week")
    if span in ("*", "?"):
        low, high = spec.low, spec.high
        normal = "*"
    else:
        first, dash, last = span.partition("-")
        low = _value(spec, first)
        high = _value(spec, last) if dash else (spec.high if slash else low)
        if low > high:
            raise ValueError(f"the range {span!r} starts after it ends")
        normal = f"{low}-{high}" if dash or slash else str(low)
    if not slash:
        return normal, set(range(low, high + 1))
    if not step_text.isdigit() or int(step_text) < 1:
        raise ValueError(f"the step in {item!r} must be a positive number")
    step = int(step_text)
    return f"{normal}/{step}", set(range(low, high + 1, step))


def _value(spec: _Field, text: str) -> int:
    if text.upper() in spec.names:
        return spec.low + spec.names.index(text.upper())
    if not text.isdigit():
        names = f" or a name {spec.names[0]}-{spec.names[-1]}" if spec.names else ""
        raise ValueError(f"{text!r} is not a number {spec.low}-{spec.high}{names}")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise ValueError(f"{value} is out of range {spec.low}-{spec.high}")
    return value


def _shortest_gap(seconds: set[int]) -> int:
    """The least time between two ticks that the Seconds field allows (60 for one value)."""
    ordered = sorted(seconds)
    return min(b - a for a, b in zip(ordered, [*ordered[1:], ordered[0] + 60], strict=True))
