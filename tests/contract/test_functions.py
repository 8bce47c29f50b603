"""Deployed functions: metadata plus code, so every node can run them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fnflow.store import FunctionRecord, Store
from tests.contract.factories import T0, at, function


def put(store: Store, record: FunctionRecord, code: bytes | None, when: float = 0) -> FunctionRecord:
    return store.write_sync(lambda tx: tx.put_function(record, code, at(when)))


def test_put_new_function_stores_record_and_code(store: Store) -> None:
    stored = put(store, function("hello"), b"\x00zip-bytes\xff")
    assert stored == replace(function("hello"), created_at=T0, updated_at=T0)
    assert store.read_sync(lambda tx: tx.get_function("svc", "hello")) == stored
    assert store.read_sync(lambda tx: tx.get_function_code("svc", "hello")) == b"\x00zip-bytes\xff"
    assert store.read_sync(lambda tx: tx.get_function("svc", "nope")) is None
    assert store.read_sync(lambda tx: tx.get_function("other", "hello")) is None
    assert store.read_sync(lambda tx: tx.get_function_code("svc", "nope")) is None


def test_a_new_function_needs_code(store: Store) -> None:
    with pytest.raises(ValueError):
        put(store, function("hello"), None)
    assert store.read_sync(lambda tx: tx.get_function("svc", "hello")) is None


def test_update_without_code_keeps_code_and_checksum(store: Store) -> None:
    put(store, function("hello", checksum="c1"), b"v1")
    changed = replace(function("hello", checksum="ignored", handler="main.run"), environment={}, timeout=5.0)
    updated = put(store, changed, None, when=60)
    assert updated == replace(changed, code_checksum="c1", created_at=T0, updated_at=at(60))
    assert store.read_sync(lambda tx: tx.get_function_code("svc", "hello")) == b"v1"


def test_update_with_code_replaces_code_and_checksum(store: Store) -> None:
    put(store, function("hello", checksum="c1"), b"v1")
    updated = put(store, function("hello", checksum="c2"), b"v2", when=5)
    assert (updated.code_checksum, updated.created_at, updated.updated_at) == ("c2", T0, at(5))
    assert store.read_sync(lambda tx: tx.get_function_code("svc", "hello")) == b"v2"


def test_list_functions_all_or_by_service(store: Store) -> None:
    for service, name in [("b", "z"), ("a", "y"), ("b", "x"), ("a", "w")]:
        put(store, function(name, service=service), b"code")
    assert [(f.service, f.name) for f in store.read_sync(lambda tx: tx.list_functions())] == [
        ("a", "w"),
        ("a", "y"),
        ("b", "x"),
        ("b", "z"),
    ]
    assert [f.name for f in store.read_sync(lambda tx: tx.list_functions("b"))] == ["x", "z"]
    assert store.read_sync(lambda tx: tx.list_functions("none")) == []


def test_delete_function(store: Store) -> None:
    put(store, function("hello"), b"code")
    put(store, function("hello", service="other"), b"code")
    assert store.write_sync(lambda tx: tx.delete_function("svc", "hello")) is True
    assert store.write_sync(lambda tx: tx.delete_function("svc", "hello")) is False
    assert store.read_sync(lambda tx: tx.get_function("svc", "hello")) is None
    assert store.read_sync(lambda tx: tx.get_function_code("svc", "hello")) is None
    assert store.read_sync(lambda tx: tx.get_function("other", "hello")) is not None


def test_scale_function_sets_the_warm_instances_and_keeps_the_rest(store: Store) -> None:
    put(store, replace(function("hello"), options={"labels": {"a": "b"}}), b"code")
    scaled = store.write_sync(lambda tx: tx.scale_function("svc", "hello", 2, at(30)))
    assert scaled is not None
    assert scaled.options == {"labels": {"a": "b"}, "minInstances": 2}
    assert (scaled.updated_at, scaled.code_checksum) == (at(30), function("hello").code_checksum)
    assert store.read_sync(lambda tx: tx.get_function("svc", "hello")) == scaled
    assert store.write_sync(lambda tx: tx.scale_function("svc", "nope", 1, at(30))) is None
