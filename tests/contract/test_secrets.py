"""Secrets: created once, updated, listed by name only, deleted; their encryption key recorded."""

from __future__ import annotations

from fnflow.store import SecretRecord, Store
from tests.contract.factories import at


def secret(name: str, value: bytes = b"sealed", *, service: str = "svc", key: str = "k1") -> SecretRecord:
    return SecretRecord(service, name, value, key, at(0), at(0))


def test_create_update_list_get_delete(store: Store) -> None:
    assert store.write_sync(lambda tx: tx.create_secret(secret("db")))
    assert not store.write_sync(lambda tx: tx.create_secret(secret("db", b"other"))), "exists: not replaced"
    assert store.write_sync(lambda tx: tx.create_secret(secret("api", service="other")))
    assert store.write_sync(lambda tx: tx.create_secret(secret("a-key", b"\x00\xff")))
    assert store.read_sync(lambda tx: tx.list_secrets("svc")) == ["a-key", "db"]
    assert store.read_sync(lambda tx: tx.get_secrets("svc", ["db", "missing", "a-key"])) == [
        secret("a-key", b"\x00\xff"),
        secret("db"),
    ]
    assert store.write_sync(lambda tx: tx.update_secret("svc", "db", b"new", "k2", at(9)))
    assert not store.write_sync(lambda tx: tx.update_secret("svc", "nope", b"new", "k2", at(9)))
    [updated] = store.read_sync(lambda tx: tx.get_secrets("svc", ["db"]))
    assert (updated.value, updated.key_id, updated.created_at, updated.updated_at) == (
        b"new",
        "k2",
        at(0),
        at(9),
    )
    assert store.read_sync(lambda tx: tx.secret_versions("svc", ["db", "a-key", "x"])) == [
        ("a-key", at(0).timestamp()),
        ("db", at(9).timestamp()),
    ]
    assert store.read_sync(lambda tx: tx.count_secrets_by_key()) == {"k1": 2, "k2": 1}
    assert store.write_sync(lambda tx: tx.delete_secret("svc", "db"))
    assert not store.write_sync(lambda tx: tx.delete_secret("svc", "db"))
    assert store.read_sync(lambda tx: tx.list_secrets("svc")) == ["a-key"]
    assert store.read_sync(lambda tx: tx.list_secrets("other")) == ["api"]
