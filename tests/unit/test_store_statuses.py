"""The status values the store's CHECK constraints allow are exactly the Python enums' values (the
contract suite shows the migrated database enforces them)."""

from fnflow.asyncq.policy import CallStatus
from fnflow.engine import Status
from fnflow.store.schema import CALL_STATUSES, EXECUTION_STATUSES


def test_execution_statuses_are_the_engines() -> None:
    assert set(EXECUTION_STATUSES) == {s.value for s in Status}


def test_call_statuses_are_function_computes() -> None:
    assert set(CALL_STATUSES) == {s.value for s in CallStatus}
