"""The pure parts of the async queue: retry policy, callback target checks, callback signatures."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from datetime import UTC, datetime, timedelta

import pytest

from fnflow import signing
from fnflow.asyncq.policy import CallStatus, judge, parse_retry_after, retry_delay
from fnflow.asyncq.targets import RefusedTarget, TargetPolicy, check_target, parse_target
from fnflow.errors import InvalidArgument
from fnflow.functions.config import AsyncPolicy

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = AsyncPolicy(retries=3, min_wait=1, max_wait=10)


@pytest.mark.parametrize(
    ("retry", "jitter", "expected"),
    [
        (1, 0.0, 0.5),
        (1, 0.999999, 1.0),
        (2, 0.0, 1.0),
        (3, 0.0, 2.0),
        (4, 0.0, 4.0),
        (5, 0.0, 5.0),
        (50, 0.0, 5.0),
    ],
)
def test_back_off_doubles_with_equal_jitter_up_to_the_cap(retry: int, jitter: float, expected: float) -> None:
    assert retry_delay(POLICY, retry, jitter) == pytest.approx(expected, abs=1e-5)


def test_retry_after_replaces_the_computed_delay_within_bounds() -> None:
    assert retry_delay(POLICY, 3, 0.0, retry_after=7) == 7
    assert retry_delay(POLICY, 3, 0.0, retry_after=0) == 1, "never below the minimum wait"
    assert retry_delay(POLICY, 3, 0.0, retry_after=999) == 10, "never above the maximum wait"


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert parse_retry_after("12", NOW) == 12
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", NOW) == 30
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_judge_succeeds_retries_and_gives_up() -> None:
    ok = judge(POLICY, status=204, attempts=1, max_attempts=4, now=NOW, jitter=0)
    assert (ok.status, ok.dead) == (CallStatus.SUCCEEDED, False)
    busy = judge(POLICY, status=503, attempts=1, max_attempts=4, now=NOW, jitter=0, retry_after="3")
    assert (busy.status, busy.run_at) == (CallStatus.RETRYING, NOW + timedelta(seconds=3))
    last = judge(POLICY, status=500, attempts=4, max_attempts=4, now=NOW, jitter=0)
    assert (last.status, last.dead) == (CallStatus.FAILED, True)
    bad = judge(POLICY, status=400, attempts=1, max_attempts=4, now=NOW, jitter=0)
    assert (bad.status, bad.dead) == (CallStatus.FAILED, True), "4xx other than 408/429 is not retried"
    custom = AsyncPolicy(retry_codes=(418,))
    assert (
        judge(custom, status=418, attempts=1, max_attempts=2, now=NOW, jitter=0).status is CallStatus.RETRYING
    )
    assert (
        judge(custom, status=503, attempts=1, max_attempts=2, now=NOW, jitter=0).status is CallStatus.FAILED
    )


def test_final_statuses() -> None:
    assert {s for s in CallStatus if s.final} == {
        CallStatus.SUCCEEDED,
        CallStatus.FAILED,
        CallStatus.STOPPED,
        CallStatus.EXPIRED,
    }


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("93.184.216.34", True),
        ("169.254.169.254", False),  # AWS, GCP, Azure metadata
        ("100.100.100.200", False),  # Alibaba Cloud metadata
        ("fe80::1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("fd00::1", False),
        ("::ffff:169.254.169.254", False),
    ],
)
def test_default_policy(address: str, allowed: bool) -> None:
    reason = TargetPolicy().check_address(ipaddress.ip_address(address))
    assert (reason is None) is allowed, reason


def test_private_ranges_can_be_allowed_but_metadata_never() -> None:
    open_private = TargetPolicy(allow_private=True)
    assert open_private.check_address(ipaddress.ip_address("10.1.2.3")) is None
    assert open_private.check_address(ipaddress.ip_address("169.254.169.254")) is not None
    one_net = TargetPolicy(allowed_networks=(ipaddress.ip_network("10.9.0.0/16"),))
    assert one_net.check_address(ipaddress.ip_address("10.9.1.1")) is None
    assert one_net.check_address(ipaddress.ip_address("10.8.1.1")) is not None


def test_targets_must_be_absolute_http_urls() -> None:
    assert parse_target("http://127.0.0.1:8080/function/x") == ("127.0.0.1", 8080)
    assert parse_target("https://example.com/hook") == ("example.com", 443)
    for bad in ("ftp://x/y", "/relative", "http://", "http://[::1", "not a url"):
        with pytest.raises(InvalidArgument):
            parse_target(bad)


def test_check_target_resolves_names() -> None:
    policy = TargetPolicy()
    asyncio.run(check_target("http://localhost:9/cb", policy))
    asyncio.run(check_target("http://127.0.0.1:8080/function/collector", policy))
    for refused in (
        "http://169.254.169.254/latest/meta-data",
        "http://metadata.google.internal/",
        "http://10.0.0.1/",
    ):
        with pytest.raises(RefusedTarget):
            asyncio.run(check_target(refused, policy))


def test_signatures_verify_and_detect_tampering() -> None:
    header = signing.sign("key", "call-1", b"body")
    assert signing.verify("key", header, "call-1", b"body")
    assert not signing.verify("key", header, "call-1", b"body!")
    assert not signing.verify("key", header, "call-2", b"body")
    assert not signing.verify("other", header, "call-1", b"body")
    assert not signing.verify("key", None, "call-1", b"body")
    assert not signing.verify("key", "garbage", "call-1", b"body")
    old = signing.sign("key", "call-1", b"body", timestamp=int(time.time()) - 3600)
    assert not signing.verify("key", old, "call-1", b"body"), "a replayed old callback is rejected"
    assert signing.verify("key", old, "call-1", b"body", tolerance=7200)
