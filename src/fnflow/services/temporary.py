"""Temporary credentials, as Alibaba's STS hands them out: an AccessKeyId (``STS.…``), an
AccessKeySecret and a SecurityToken, good until they expire and while the key they come from
exists. Requests signed with them carry the token (``SecurityToken``), as the SDKs'
``StsTokenCredential`` sends it.

Nothing is stored per credential. The token holds the parent key, the scope, and when it was
issued and expires, under an HMAC keyed with a server secret; the id and the secret are HMACs of
the token's content with the same secret, so the server derives them again from the token.
Pure: the secret and the time come in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fnflow.consttime import same
from fnflow.errors import InvalidSecurityToken

SETTING = "security_token_key"  # the server secret, in the settings table
PREFIX = "STS."
MIN_TTL = 900.0  # as STS: 15 minutes to 12 hours
MAX_TTL = 43_200.0


@dataclass(frozen=True)
class TemporaryKey:
    access_key_id: str
    access_key_secret: str
    security_token: str
    expiration: datetime
    parent_id: str
    scope: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TemporaryKeys:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, purpose: str, payload: str) -> bytes:
        return hmac.new(self._secret, f"{purpose}:{payload}".encode(), hashlib.sha256).digest()

    def _derive(self, payload: str, parent_id: str, scope: str, expires: int) -> TemporaryKey:
        return TemporaryKey(
            access_key_id=PREFIX + _b64(self._mac("id", payload)[:15]),
            access_key_secret=_b64(self._mac("secret", payload)),
            security_token=_b64(f"{payload}#{_b64(self._mac('token', payload))}".encode()),
            expiration=datetime.fromtimestamp(expires, UTC),
            parent_id=parent_id,
            scope=scope,
        )

    def mint(self, parent_id: str, scope: str, ttl: float, now: datetime) -> TemporaryKey:
        """Credentials of ``scope`` (the caller checks the parent may give it) for ``ttl`` seconds."""
        issued = int(now.timestamp())
        expires = int((now + timedelta(seconds=ttl)).timestamp())
        payload = f"v1|{parent_id}|{scope}|{issued}|{expires}|{secrets.token_hex(8)}"
        return self._derive(payload, parent_id, scope, expires)

    def open(self, access_key_id: str, token: str, now: datetime) -> TemporaryKey:
        """The credentials a request names; ``InvalidSecurityToken`` says why they are not good."""
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            payload, mac = text.rsplit("#", 1)
            version, parent_id, scope, _issued, expires = payload.split("|")[:5]
            valid = version == "v1" and same(mac, _b64(self._mac("token", payload)))
            key = self._derive(payload, parent_id, scope, int(expires))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            valid = False
        if not valid:
            raise InvalidSecurityToken("Malformed", "The security token you provided is invalid.")
        if not same(key.access_key_id, access_key_id):
            raise InvalidSecurityToken(
                "MismatchWithAccessKey", "The security token you provided does not match your AccessKey ID."
            )
        if key.expiration <= now:
            raise InvalidSecurityToken("Expired", "The security token you provided has expired.")
        return key
