"""Flow versions, service versions (snapshots of a service's functions) and aliases."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fnflow.errors import InvalidArgument
from fnflow.store import Store
from tests.contract.factories import T0, at, execution, function, insert

DEF1 = "version: v1\ntype: flow\nsteps:\n  - type: pass\n    name: a\n"
DEF2 = "version: v1\ntype: flow\nsteps:\n  - type: pass\n    name: b\n"


def test_each_new_definition_is_a_new_version_and_old_ones_stay(store: Store) -> None:
    first = store.write_sync(lambda tx: tx.put_flow("orders", "one", DEF1, "h1", at(0)))
    assert first.version == 1
    same = store.write_sync(lambda tx: tx.put_flow("orders", "described", DEF1, "h1", at(5)))
    assert (same.version, same.revision) == (1, 2)  # a description alone is no new version
    second = store.write_sync(lambda tx: tx.put_flow("orders", "two", DEF2, "h2", at(10)))
    back = store.write_sync(lambda tx: tx.put_flow("orders", "back", DEF1, "h1", at(20)))
    assert (second.version, back.version) == (2, 3)  # going back is a new version too
    page = store.read_sync(lambda tx: tx.list_flow_versions("orders"))
    assert [(v.version, v.definition_hash, v.description) for v in page.items] == [
        (3, "h1", "back"),
        (2, "h2", "two"),
        (1, "h1", "one"),
    ]
    assert page.next_token is None
    one = store.read_sync(lambda tx: tx.get_flow_version("orders", 1))
    assert one is not None
    assert (one.definition, one.created_at) == (DEF1, T0)
    two = store.read_sync(lambda tx: tx.get_flow_version("orders", 2))
    assert two is not None and two.definition == DEF2
    assert store.read_sync(lambda tx: tx.get_flow_version("orders", 4)) is None
    assert store.read_sync(lambda tx: tx.get_flow_version("other", 1)) is None


def test_flow_versions_page_and_go_with_the_flow(store: Store) -> None:
    for i in range(5):
        text = DEF1.replace("name: a", f"name: s{i}")
        store.write_sync(lambda tx, t=text, i=i: tx.put_flow("f", "", t, f"h{i}", at(i)))
    first = store.read_sync(lambda tx: tx.list_flow_versions("f", 2))
    assert [v.version for v in first.items] == [5, 4]
    assert first.next_token is not None
    rest = store.read_sync(lambda tx: tx.list_flow_versions("f", 10, first.next_token))
    assert [v.version for v in rest.items] == [3, 2, 1]
    with pytest.raises(InvalidArgument):
        store.read_sync(lambda tx: tx.list_flow_versions("f", 2, "bad!"))
    store.write_sync(lambda tx: tx.delete_flow("f"))
    assert store.read_sync(lambda tx: tx.list_flow_versions("f")).items == []
    again = store.write_sync(lambda tx: tx.put_flow("f", "", DEF1, "h9", at(50)))
    assert again.version == 1


def test_publish_snapshots_the_functions_with_their_code(store: Store) -> None:
    store.write_sync(lambda tx: tx.put_function(function("a", checksum="c1"), b"code-1", at(0)))
    store.write_sync(lambda tx: tx.put_function(function("b", checksum="c2"), b"code-2", at(0)))
    v1 = store.write_sync(lambda tx: tx.publish_service_version("svc", "first", "d1", at(10)))
    assert (v1.version_id, v1.description, v1.digest, v1.functions) == (1, "first", "d1", ("a", "b"))
    store.write_sync(
        lambda tx: tx.put_function(function("a", checksum="c3", handler="x.y"), b"code-3", at(20))
    )
    v2 = store.write_sync(lambda tx: tx.publish_service_version("svc", "", "d2", at(30)))
    assert v2.version_id == 2
    old = store.read_sync(lambda tx: tx.get_version_function("svc", 1, "a"))
    assert old is not None
    assert (old.code_checksum, old.handler, old.environment) == (
        "c1",
        "index.handler",
        {"A": "1", "B": "two"},
    )
    new = store.read_sync(lambda tx: tx.get_version_function("svc", 2, "a"))
    assert new is not None and (new.code_checksum, new.handler) == ("c3", "x.y")
    assert store.read_sync(lambda tx: tx.get_version_function("svc", 1, "c")) is None
    assert store.read_sync(lambda tx: tx.get_version_code("c1")) == b"code-1"
    assert store.read_sync(lambda tx: tx.get_version_code("c3")) == b"code-3"
    assert [v.version_id for v in store.read_sync(lambda tx: tx.list_service_versions("svc"))] == [2, 1]
    last = store.read_sync(lambda tx: tx.last_service_version("svc"))
    assert last is not None and last.digest == "d2"
    assert store.read_sync(lambda tx: tx.last_service_version("other")) is None
    assert len(store.read_sync(lambda tx: tx.list_version_functions())) == 4
    # deleting a version drops its functions, and code no other version has
    assert store.write_sync(lambda tx: tx.delete_service_version("svc", 1))
    assert not store.write_sync(lambda tx: tx.delete_service_version("svc", 1))
    assert store.read_sync(lambda tx: tx.get_version_code("c1")) is None
    assert store.read_sync(lambda tx: tx.get_version_code("c2")) == b"code-2"
    assert store.read_sync(lambda tx: tx.get_service_version("svc", 1)) is None


def test_a_publish_that_fails_leaves_no_version(store: Store) -> None:
    store.write_sync(lambda tx: tx.put_function(function("a"), b"code", at(0)))

    def crash(tx):  # type: ignore[no-untyped-def]
        tx.publish_service_version("svc", "", "d1", at(1))
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError):
        store.write_sync(crash)
    assert store.read_sync(lambda tx: tx.list_service_versions("svc")) == []
    assert store.read_sync(lambda tx: tx.get_version_function("svc", 1, "a")) is None


def test_aliases_point_to_versions(store: Store) -> None:
    store.write_sync(lambda tx: tx.put_function(function("a"), b"code", at(0)))
    store.write_sync(lambda tx: tx.publish_service_version("svc", "", "d1", at(1)))
    alias, created = store.write_sync(lambda tx: tx.put_alias("svc", "prod", 1, None, 0.0, "live", at(2)))
    assert created
    assert (alias.version_id, alias.additional_version_id, alias.additional_weight) == (1, None, 0.0)
    changed, created = store.write_sync(lambda tx: tx.put_alias("svc", "prod", 2, 1, 0.1, "canary", at(3)))
    assert not created
    assert changed == replace(
        alias,
        version_id=2,
        additional_version_id=1,
        additional_weight=0.1,
        description="canary",
        updated_at=at(3),
    )
    store.write_sync(lambda tx: tx.put_alias("svc", "beta", 2, None, 0.0, "", at(4), 3))
    reserved = store.read_sync(lambda tx: tx.reserved_aliases())
    assert [(a.service, a.name, a.reserved_instances) for a in reserved] == [("svc", "beta", 3)]
    assert store.read_sync(lambda tx: tx.aliases_of_version("svc", 1)) == ["prod"]
    assert store.read_sync(lambda tx: tx.aliases_of_version("svc", 2)) == ["beta", "prod"]
    assert [a.name for a in store.read_sync(lambda tx: tx.list_aliases("svc"))] == ["beta", "prod"]
    assert store.read_sync(lambda tx: tx.get_alias("svc", "nope")) is None
    assert store.write_sync(lambda tx: tx.delete_alias("svc", "beta"))
    assert not store.write_sync(lambda tx: tx.delete_alias("svc", "beta"))
    assert store.read_sync(lambda tx: tx.aliases_of_version("svc", 2)) == ["prod"]


def test_an_execution_pins_the_version_an_alias_first_gave_it(store: Store) -> None:
    assert store.read_sync(lambda tx: tx.get_pinned_version("e1", "svc", "prod")) is None
    assert store.write_sync(lambda tx: tx.pin_version("e1", "svc", "prod", "1")) == "1"
    assert store.write_sync(lambda tx: tx.pin_version("e1", "svc", "prod", "2")) == "1"  # the first stays
    assert store.write_sync(lambda tx: tx.pin_version("e2", "svc", "prod", "2")) == "2"
    assert store.read_sync(lambda tx: tx.get_pinned_version("e1", "svc", "prod")) == "1"
    insert(store, execution("run", flow="f", id="e1", status="Succeeded"))
    store.write_sync(lambda tx: tx.put_flow("f", "", DEF1, "h1", at(0)))
    assert store.write_sync(lambda tx: tx.delete_flow("f"))
    assert store.read_sync(lambda tx: tx.get_pinned_version("e1", "svc", "prod")) is None  # gone with it
    assert store.read_sync(lambda tx: tx.get_pinned_version("e2", "svc", "prod")) == "2"
