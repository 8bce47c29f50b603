"""Driving a test server with Alibaba's own MNS SDK (``aliyun-mns``), as user code does.

The SDK prints every request (and, in 1.1.5, its secret) to standard output; pytest keeps that
out of the way. Its ``Account`` keeps one connection open: ``Accounts`` closes them after a test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mns.account import Account
from mns.mns_exception import MNSServerException

from fnflow.services.keys import new_key
from fnflow.store import ApiKeyRecord, open_store


def make_keys(db: str, *scopes: str) -> dict[str, ApiKeyRecord]:
    """A key of each scope, written to the server's database (before it starts)."""
    keys = {scope: new_key(scope) for scope in scopes}
    store = open_store(db)
    try:
        store.write_sync(lambda tx: [tx.put_key(k) for k in keys.values()])
    finally:
        store.close()
    return keys


class Accounts:
    """``Account``s whose endpoint is fnflow's URL — all a user changes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list[Account] = []

    def __call__(self, key_id: str, secret: str, security_token: str = "") -> Account:
        made = Account(self.url, key_id, secret, security_token)
        self.made.append(made)
        return made

    def of(self, key: ApiKeyRecord) -> Account:
        return self(key.id, key.secret)

    def close(self) -> None:
        for made in self.made:
            made.get_client().close_connection()


def fails(code: str, call: Callable[..., Any], *args: Any) -> MNSServerException:
    """The error ``call`` must end with, as the SDK raises it."""
    with pytest.raises(MNSServerException) as raised:
        call(*args)
    error = raised.value
    assert error.type == code, error
    assert error.request_id and error.message
    return error
