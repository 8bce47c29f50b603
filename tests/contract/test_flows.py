"""Flows and their content-addressed definitions."""

from __future__ import annotations

import pytest

from fnflow.errors import FlowAlreadyExists, InvalidArgument
from fnflow.store import FlowRecord, Page, Store, Tx
from tests.contract.factories import T0, at, event, execution, insert

DEF1 = "version: v1\ntype: flow\nsteps:\n  - type: pass\n    name: a\n"
DEF2 = "version: v1\ntype: flow\nsteps:\n  - type: pass\n    name: b\n"


def put(
    store: Store, name: str, definition: str = DEF1, digest: str = "h1", *, when: float = 0
) -> FlowRecord:
    return store.write_sync(lambda tx: tx.put_flow(name, "desc", definition, digest, at(when)))


def test_put_flow_creates_it_at_revision_1(store: Store) -> None:
    created = put(store, "orders")
    assert (created.name, created.description, created.definition, created.definition_hash) == (
        "orders",
        "desc",
        DEF1,
        "h1",
    )
    assert created.revision == 1
    assert created.created_at == created.updated_at == T0
    assert created.id
    assert store.read_sync(lambda tx: tx.get_flow("orders")) == created
    assert store.read_sync(lambda tx: tx.get_flow("missing")) is None
    assert store.read_sync(lambda tx: tx.count_flows()) == 1


def test_put_same_definition_again_is_a_no_op(store: Store) -> None:
    first = put(store, "orders")
    again = put(store, "orders", when=60)
    assert again == first  # same revision, same updated_at


def test_new_definition_bumps_revision_and_keeps_the_old_one_by_hash(store: Store) -> None:
    first = put(store, "orders")
    second = put(store, "orders", DEF2, "h2", when=60)
    assert second.revision == 2
    assert (second.definition, second.definition_hash) == (DEF2, "h2")
    assert (second.id, second.created_at, second.updated_at) == (first.id, T0, at(60))
    assert store.read_sync(lambda tx: tx.get_definition("h1")) == DEF1
    assert store.read_sync(lambda tx: tx.get_definition("h2")) == DEF2
    assert put(store, "orders", DEF1, "h1", when=120).revision == 3  # going back is a new revision too


def test_a_flow_is_the_one_read_until_it_is_updated_or_deleted(store: Store) -> None:
    first = put(store, "orders")

    def still(flow: FlowRecord) -> bool:
        return store.read_sync(lambda tx: tx.flow_is(flow.name, flow.id, flow.revision))

    assert still(first)
    second = put(store, "orders", DEF2, "h2", when=60)
    assert (still(first), still(second)) == (False, True)
    store.write_sync(lambda tx: tx.delete_flow("orders"))
    assert not still(second)
    again = put(store, "orders")  # made again: revision 1 as the first was, but a new flow
    assert again.revision == first.revision
    assert (still(first), still(again)) == (False, True)


def test_new_description_alone_bumps_revision(store: Store) -> None:
    put(store, "orders")
    changed = store.write_sync(lambda tx: tx.put_flow("orders", "other", DEF1, "h1", at(5)))
    assert (changed.revision, changed.description) == (2, "other")


def test_definitions_are_content_addressed_and_immutable(store: Store) -> None:
    store.write_sync(lambda tx: tx.put_definition("h9", "first text", T0))
    store.write_sync(lambda tx: tx.put_definition("h9", "other text", at(1)))
    assert store.read_sync(lambda tx: tx.get_definition("h9")) == "first text"
    assert store.read_sync(lambda tx: tx.get_definition("nope")) is None


def test_list_flows_pages_by_name_with_tokens(store: Store) -> None:
    names = [f"flow-{i:02d}" for i in range(11)]
    for name in reversed(names):
        put(store, name)

    def fetch(token: str | None) -> Page:
        return store.read_sync(lambda tx: tx.list_flows(4, token))

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = fetch(token)
        seen += [f.name for f in page.items]
        assert all(isinstance(f, FlowRecord) and f.definition == DEF1 for f in page.items)
        pages += 1
        token = page.next_token
        if token is None:
            break
    assert seen == names
    assert pages == 3


def test_list_flows_exact_multiple_of_limit_has_no_extra_page(store: Store) -> None:
    for i in range(4):
        put(store, f"f{i}")
    first = store.read_sync(lambda tx: tx.list_flows(2))
    assert first.next_token is not None
    second = store.read_sync(lambda tx: tx.list_flows(2, first.next_token))
    assert [f.name for f in second.items] == ["f2", "f3"]
    assert second.next_token is None
    assert store.read_sync(lambda tx: tx.list_flows(10)).next_token is None


@pytest.mark.parametrize(
    "token", ["%%%", "!!", "not a token", "\x00"], ids=["percent", "bang", "words", "nul"]
)
def test_list_flows_rejects_a_bad_token(store: Store, token: str) -> None:
    put(store, "a")
    with pytest.raises(InvalidArgument):
        store.read_sync(lambda tx: tx.list_flows(10, token))


def test_list_flows_rejects_a_token_of_another_listing(store: Store) -> None:
    put(store, "a")
    insert(store, *(execution(f"e{i}", flow="a", started=i) for i in range(3)))
    foreign = store.read_sync(lambda tx: tx.list_executions("a", limit=1)).next_token
    assert foreign is not None
    with pytest.raises(InvalidArgument):
        store.read_sync(lambda tx: tx.list_flows(10, foreign))


def test_delete_flow_removes_its_executions_and_their_history(store: Store) -> None:
    put(store, "gone")
    put(store, "kept")
    insert(
        store,
        execution("e1", flow="gone", status="Succeeded"),
        execution("e1", flow="kept", status="Succeeded"),
    )
    store.write_sync(lambda tx: tx.append_history("id-gone-e1", [event(1), event(2)]))
    store.write_sync(lambda tx: tx.append_history("id-kept-e1", [event(1), event(2)]))

    assert store.write_sync(lambda tx: tx.delete_flow("gone")) is True
    assert store.read_sync(lambda tx: tx.get_flow("gone")) is None
    assert store.read_sync(lambda tx: tx.get_execution("gone", "e1")) is None
    assert store.read_sync(lambda tx: tx.get_execution_by_id("id-gone-e1")) is None
    assert store.read_sync(lambda tx: tx.history("id-gone-e1")).items == []
    # the other flow is untouched
    assert store.read_sync(lambda tx: tx.get_execution("kept", "e1")) is not None
    assert len(store.read_sync(lambda tx: tx.history("id-kept-e1")).items) == 2
    assert store.write_sync(lambda tx: tx.delete_flow("gone")) is False
    assert store.read_sync(lambda tx: tx.count_flows()) == 1


def test_has_running_executions(store: Store) -> None:
    put(store, "f")
    assert store.read_sync(lambda tx: tx.has_running_executions("f")) is False
    store.write_sync(lambda tx: tx.insert_execution(execution("done", status="Succeeded")))
    store.write_sync(lambda tx: tx.insert_execution(execution("other", flow="g", status="Running")))
    assert store.read_sync(lambda tx: tx.has_running_executions("f")) is False
    insert(store, execution("running", status="Running"))
    assert store.read_sync(lambda tx: tx.has_running_executions("f")) is True

    def stop(tx: Tx) -> None:
        tx.update_execution("id-f-running", status="Stopped", state=None, stopped_at=at(9))

    store.write_sync(stop)
    assert store.read_sync(lambda tx: tx.has_running_executions("f")) is False


def test_a_new_flow_is_standard_and_keeps_its_mode_and_role_until_told(store: Store) -> None:
    assert (put(store, "plain").execution_mode, put(store, "plain").role_arn) == ("Standard", "")

    def put_with(tx: Tx, description: str = "desc", **options: str | None) -> FlowRecord:
        return tx.put_flow("fast", description, DEF1, "h1", at(1), **options)

    created = store.write_sync(
        lambda tx: put_with(tx, execution_mode="Express", role_arn="acs:ram::1:role/r")
    )
    assert (created.execution_mode, created.role_arn, created.revision) == ("Express", "acs:ram::1:role/r", 1)
    assert store.read_sync(lambda tx: tx.get_flow("fast")) == created
    kept = store.write_sync(lambda tx: put_with(tx, "other"))  # None: keep them
    assert (kept.execution_mode, kept.role_arn, kept.revision) == ("Express", "acs:ram::1:role/r", 2)
    changed = store.write_sync(lambda tx: put_with(tx, "other", role_arn=""))
    assert (changed.execution_mode, changed.role_arn, changed.revision) == ("Express", "", 3)


def test_put_flow_without_replace_refuses_an_existing_flow(store: Store) -> None:
    first = put(store, "orders")
    with pytest.raises(FlowAlreadyExists):
        store.write_sync(lambda tx: tx.put_flow("orders", "new", DEF2, "h2", at(5), replace=False))
    assert store.read_sync(lambda tx: tx.get_flow("orders")) == first
    made = store.write_sync(lambda tx: tx.put_flow("new", "d", DEF2, "h2", at(5), replace=False))
    assert made.revision == 1
