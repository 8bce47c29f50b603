"""Temporary (STS-style) credentials: minted from a key, derived again from their token alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fnflow.errors import InvalidArgument, InvalidSecurityToken
from fnflow.services.keys import issue_temporary
from fnflow.services.temporary import TemporaryKeys
from fnflow.store import ApiKeyRecord

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
KEYS = TemporaryKeys(b"k" * 32)


def parent(scope: str = "invoke") -> ApiKeyRecord:
    return ApiKeyRecord("FNFPARENT", "secret", scope, "", NOW)


def test_the_token_gives_back_the_id_the_secret_and_the_scope() -> None:
    made = issue_temporary(KEYS, parent(), "report-task", 900, NOW)
    assert made.access_key_id.startswith("STS.") and made.expiration == NOW + timedelta(seconds=900)
    opened = KEYS.open(made.access_key_id, made.security_token, NOW + timedelta(seconds=899))
    assert opened == made
    other = issue_temporary(KEYS, parent(), None, 900, NOW)
    assert other.scope == "invoke" and other.access_key_id != made.access_key_id


def test_another_server_secret_opens_nothing() -> None:
    made = KEYS.mint("FNFPARENT", "invoke", 900, NOW)
    with pytest.raises(InvalidSecurityToken) as raised:
        TemporaryKeys(b"x" * 32).open(made.access_key_id, made.security_token, NOW)
    assert raised.value.reason == "Malformed"


@pytest.mark.parametrize(
    ("key_id", "token", "when", "reason"),
    [
        (None, "not a token", 0, "Malformed"),
        (None, "YQ", 0, "Malformed"),  # base64 of "a": no MAC at all
        (None, "tampered", 0, "Malformed"),
        ("STS.other", None, 0, "MismatchWithAccessKey"),
        (None, None, 900, "Expired"),
    ],
)
def test_bad_tokens(key_id: str | None, token: str | None, when: float, reason: str) -> None:
    made = KEYS.mint("FNFPARENT", "invoke", 900, NOW)
    if token == "tampered":
        token = made.security_token[:-3] + ("AAA" if not made.security_token.endswith("AAA") else "BBB")
    with pytest.raises(InvalidSecurityToken) as raised:
        KEYS.open(key_id or made.access_key_id, token or made.security_token, NOW + timedelta(seconds=when))
    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("scope", "ttl"), [("admin", 900), ("owner", 900), ("invoke", 899), ("invoke", 43_201)]
)
def test_what_a_key_cannot_give(scope: str, ttl: float) -> None:
    with pytest.raises(InvalidArgument):
        issue_temporary(KEYS, parent("invoke"), scope, ttl, NOW)
