"""Function environments and layers: recorded once, marked used by each deploy, pruned when unused."""

from __future__ import annotations

from fnflow.store import EnvironmentRecord, Store
from tests.contract.factories import at


def environment(
    hash: str, used: float = 0, packages: tuple[tuple[str, str], ...] = (("a", "1"),)
) -> EnvironmentRecord:
    return EnvironmentRecord(hash, "cpython-311-linux-x86_64", "a==1\nb", packages, at(0), at(used))


def test_the_first_build_of_an_environment_stays_and_later_deploys_mark_it_used(store: Store) -> None:
    first = store.write_sync(
        lambda tx: tx.put_environment(environment("h1", packages=(("a", "1"), ("b", "2"))))
    )
    assert first == environment("h1", packages=(("a", "1"), ("b", "2")))
    again = store.write_sync(lambda tx: tx.put_environment(environment("h1", used=5, packages=(("a", "9"),))))
    assert again.packages == (("a", "1"), ("b", "2")), "the versions first resolved are kept"
    assert (again.created_at, again.used_at) == (at(0), at(5))
    assert store.read_sync(lambda tx: tx.get_environment("h1")) == again
    assert store.read_sync(lambda tx: tx.get_environment("nope")) is None


def test_environments_are_pruned_when_unnamed_and_unused_since_the_cutoff(store: Store) -> None:
    for hash, used in (("kept", 0), ("old", 0), ("recent", 10), ("older", 1)):
        store.write_sync(lambda tx, h=hash, u=used: tx.put_environment(environment(h, u)))
    assert store.write_sync(lambda tx: tx.prune_environments({"kept"}, at(5))) == ["old", "older"]
    assert store.write_sync(lambda tx: tx.prune_environments(set(), at(11))) == ["kept", "recent"]
    assert store.read_sync(lambda tx: tx.get_environment("recent")) is None


def test_layers_are_stored_once_marked_used_and_pruned(store: Store) -> None:
    store.write_sync(lambda tx: tx.put_layer("l1", b"zip-1", at(0)))
    store.write_sync(lambda tx: tx.put_layer("l2", b"zip-2", at(0)))
    store.write_sync(lambda tx: tx.put_layer("l1", b"ignored", at(3)))
    assert store.read_sync(lambda tx: tx.get_layer_code("l1")) == b"zip-1"
    assert store.read_sync(lambda tx: tx.get_layer_code("l3")) is None
    assert store.write_sync(lambda tx: tx.touch_layers(["l2", "l3"], at(4))) == {"l2"}
    assert store.write_sync(lambda tx: tx.touch_layers([], at(4))) == set()
    assert store.write_sync(lambda tx: tx.prune_layers(set(), at(3.5))) == ["l1"]
    assert store.write_sync(lambda tx: tx.prune_layers({"l2"}, at(9))) == []
    assert store.read_sync(lambda tx: tx.get_layer_code("l2")) == b"zip-2"
