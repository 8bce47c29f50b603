"""Prepared statements run on one cursor per driver connection (``fnflow.store.prepared``), on
every backend: results come back whole, in order, and a failed statement leaves it usable."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select

from fnflow.store import Store, Tx
from fnflow.store.prepared import Prepared, driver_cursor
from fnflow.store.schema import settings

_ADD = Prepared(insert(settings).values(key=bindparam("k"), value=bindparam("v")))
_GET = Prepared(select(settings.c.value).where(settings.c.key == bindparam("k")))
_ALL = Prepared(select(settings.c.key, settings.c.value).order_by(settings.c.key))


def test_statements_of_a_connection_share_its_cursor(store: Store) -> None:
    def work(tx: Tx) -> tuple[object, ...]:
        first = driver_cursor(tx.conn)
        added = [_ADD.run(tx.conn, {"k": k, "v": k.upper()}) for k in ("b", "a", "c")]
        listed = _ALL.all(tx.conn, {})
        one, none = _GET.one(tx.conn, {"k": "a"}), _GET.one(tx.conn, {"k": "z"})
        return added, listed, one, none, driver_cursor(tx.conn) is first

    added, listed, one, none, same = store.write_sync(work)
    assert added == [1, 1, 1]
    assert [tuple(row) for row in listed] == [("a", "A"), ("b", "B"), ("c", "C")]
    assert tuple(one) == ("A",) and none is None
    assert same


def test_a_failed_statement_leaves_the_cursor_usable(store: Store) -> None:
    store.write_sync(lambda tx: _ADD.run(tx.conn, {"k": "a", "v": "first"}))

    def add_twice(tx: Tx) -> None:
        _ADD.run(tx.conn, {"k": "b", "v": "lost"})
        _ADD.run(tx.conn, {"k": "a", "v": "again"})  # the key is taken: the transaction fails

    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):  # the driver's IntegrityError
        store.write_sync(add_twice)
    store.write_sync(lambda tx: _ADD.run(tx.conn, {"k": "c", "v": "after"}))
    rows = store.read_sync(lambda tx: _ALL.all(tx.conn, {}))
    assert [tuple(row) for row in rows] == [("a", "first"), ("c", "after")]
