"""The kinds of leased rows, for the adapters that claim and renew them (see ``queries/leases.py``)."""

from fnflow.store.queries.calls import CALL_LEASE as CALLS
from fnflow.store.queries.deliveries import DELIVERY_LEASE as DELIVERIES
from fnflow.store.queries.leases import Key, Lease
from fnflow.store.queries.queues import MESSAGE_LEASE as MESSAGES
from fnflow.store.queries.work import TASK_LEASE as TASKS

__all__ = ["CALLS", "DELIVERIES", "MESSAGES", "TASKS", "Key", "Lease"]
