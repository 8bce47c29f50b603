"""RFC 3339 timestamps as FDL and the FnF API write them (``2019-05-02T15:04:05Z``)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp with a zone (``Z`` or ``+08:00``) into an aware UTC datetime."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp such as 2019-05-02T15:04:05Z") from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add Z or an offset such as +08:00")
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """Format as FnF does: UTC with milliseconds, ``2020-09-22T23:43:40.073Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
