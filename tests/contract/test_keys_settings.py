"""API keys and server-wide settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from fnflow.store import Store, Tx
from tests.contract.factories import api_key, at


def test_put_get_list_delete_keys(store: Store) -> None:
    keys = [
        api_key("k2", created=2),
        api_key("k1", created=1, enabled=False, scope="invoke"),
        api_key("k3", created=3),
    ]

    def put_all(tx: Tx) -> None:
        for key in keys:
            tx.put_key(key)

    store.write_sync(put_all)
    assert store.read_sync(lambda tx: tx.get_key("k1")) == keys[1]
    assert store.read_sync(lambda tx: tx.get_key("nope")) is None
    assert [k.id for k in store.read_sync(lambda tx: tx.list_keys())] == ["k1", "k2", "k3"]  # oldest first
    assert store.write_sync(lambda tx: tx.delete_key("k2")) is True
    assert store.write_sync(lambda tx: tx.delete_key("k2")) is False
    assert store.read_sync(lambda tx: tx.list_keys()) == [keys[1], keys[2]]


def test_a_key_secret_is_replaced_sealed_and_only_if_still_plain(store: Store) -> None:
    plain = api_key("k1")
    store.write_sync(lambda tx: tx.put_key(plain))
    sealed = dataclasses.replace(plain, secret="", sealed=b"\x01sealed\x00bytes", sealed_with="abc123")
    assert store.write_sync(lambda tx: tx.set_key_secret(sealed, only_if_plain=True)) is True
    assert store.read_sync(lambda tx: tx.get_key("k1")) == sealed
    again = dataclasses.replace(sealed, sealed=b"another")
    assert (
        store.write_sync(lambda tx: tx.set_key_secret(again, only_if_plain=True)) is False
    )  # sealed already
    assert store.write_sync(lambda tx: tx.set_key_secret(again)) is True  # a rotation replaces it
    assert store.read_sync(lambda tx: tx.get_key("k1")) == again
    gone = dataclasses.replace(again, id="nope")
    assert store.write_sync(lambda tx: tx.set_key_secret(gone)) is False
    store.forget_overwritten()  # harmless at any time, on every backend
    assert store.read_sync(lambda tx: tx.get_key("k1")) == again


def test_get_and_set_setting(store: Store) -> None:
    assert store.read_sync(lambda tx: tx.get_setting("color")) is None
    store.write_sync(lambda tx: tx.set_setting("color", "red"))
    store.write_sync(lambda tx: tx.set_setting("size", "9"))
    store.write_sync(lambda tx: tx.set_setting("color", "blue"))
    assert store.read_sync(lambda tx: tx.get_setting("color")) == "blue"
    assert store.read_sync(lambda tx: tx.get_setting("size")) == "9"


def test_setting_or_create_is_stable_across_calls_and_reopen(
    store: Store, open_again: Callable[[], Store]
) -> None:
    made: list[str] = []

    def make() -> str:
        made.append(f"secret-{len(made)}")
        return made[-1]

    first = store.write_sync(lambda tx: tx.setting_or_create("token-key", make))
    assert first == "secret-0"
    assert store.write_sync(lambda tx: tx.setting_or_create("token-key", make)) == first
    assert store.read_sync(lambda tx: tx.get_setting("token-key")) == first
    store.close()
    reopened = open_again()
    assert reopened.write_sync(lambda tx: tx.setting_or_create("token-key", make)) == first
    assert made == ["secret-0"]  # ``make`` ran once, on the first start
    assert reopened.write_sync(lambda tx: tx.setting_or_create("other", make)) == "secret-1"


def test_a_nonce_is_used_once_per_key_until_it_expires(store: Store) -> None:
    def use(key: str, nonce: str, until: float, now: float) -> bool:
        return store.write_sync(lambda tx: tx.use_nonce(key, nonce, at(until), at(now)))

    assert use("k1", "n1", until=900, now=0) is True
    assert use("k1", "n1", until=905, now=5) is False  # a replay
    assert use("k2", "n1", until=905, now=5) is True  # another key's nonces are its own
    assert use("k1", "n2", until=905, now=5) is True
    assert use("k1", "n1", until=1800, now=901) is True  # forgotten once its request is out of the window
    assert use("k1", "n1", until=1801, now=902) is False
