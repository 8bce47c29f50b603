"""What happens after an attempt (pure): succeed, retry after a delay, or fail for good."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fnflow.functions.config import AsyncPolicy


class CallStatus(StrEnum):
    """Function Compute's states of an asynchronous invocation."""

    ENQUEUED = "Enqueued"
    RUNNING = "Running"
    RETRYING = "Retrying"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    EXPIRED = "Expired"

    @property
    def final(self) -> bool:
        return self in (CallStatus.SUCCEEDED, CallStatus.FAILED, CallStatus.STOPPED, CallStatus.EXPIRED)


@dataclass(frozen=True)
class Verdict:
    status: CallStatus
    run_at: datetime  # when to try again (Retrying); otherwise the time of the verdict
    dead: bool = False  # goes to the dead-letter list


def retry_delay(policy: AsyncPolicy, retry: int, jitter: float, retry_after: float | None = None) -> float:
    """Seconds before retry number ``retry`` (1-based): exponential from ``min_wait``, capped at
    ``max_wait``, with "equal" jitter (half fixed, half random; ``jitter`` in [0, 1)). A
    ``Retry-After`` from the function replaces it, but never below ``min_wait``."""
    if retry_after is not None:
        return max(policy.min_wait, min(retry_after, policy.max_wait))
    base = policy.min_wait
    for _ in range(retry - 1):
        base = min(policy.max_wait, base * 2)
    return base / 2 + jitter * base / 2


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def judge(
    policy: AsyncPolicy,
    *,
    status: int,
    attempts: int,
    max_attempts: int,
    now: datetime,
    jitter: float,
    retry_after: str | None = None,
) -> Verdict:
    """The outcome of an attempt that answered ``status`` (attempts counts this one)."""
    if 200 <= status < 300:
        return Verdict(CallStatus.SUCCEEDED, now)
    if status in policy.retry_codes and attempts < max_attempts:
        delay = retry_delay(policy, attempts, jitter, parse_retry_after(retry_after, now))
        return Verdict(CallStatus.RETRYING, now + timedelta(seconds=delay))
    return Verdict(CallStatus.FAILED, now, dead=True)
