"""One transaction's view of the store: every domain query, no SQL outside ``store``."""

from __future__ import annotations

from fnflow.store.queries.bins import BinQueries
from fnflow.store.queries.calls import CallQueries
from fnflow.store.queries.decisions import DecisionQueries
from fnflow.store.queries.deliveries import DeliveryQueries
from fnflow.store.queries.dependencies import DependencyQueries
from fnflow.store.queries.executions import ExecutionQueries
from fnflow.store.queries.flows import FlowQueries
from fnflow.store.queries.functions import FunctionQueries
from fnflow.store.queries.keys import KeyQueries
from fnflow.store.queries.logs import LogQueries
from fnflow.store.queries.nonces import NonceQueries
from fnflow.store.queries.notify import NotifyQueries
from fnflow.store.queries.queues import QueueQueries
from fnflow.store.queries.schedules import ScheduleQueries
from fnflow.store.queries.secrets import SecretQueries
from fnflow.store.queries.settings import SettingQueries
from fnflow.store.queries.stacks import StackQueries
from fnflow.store.queries.topics import TopicQueries
from fnflow.store.queries.triggers import TriggerQueries
from fnflow.store.queries.versions import VersionQueries
from fnflow.store.queries.work import WorkQueries


class Tx(
    DecisionQueries,
    FlowQueries,
    ExecutionQueries,
    NotifyQueries,
    WorkQueries,
    FunctionQueries,
    DependencyQueries,
    KeyQueries,
    SettingQueries,
    CallQueries,
    DeliveryQueries,
    BinQueries,
    ScheduleQueries,
    NonceQueries,
    LogQueries,
    SecretQueries,
    QueueQueries,
    TopicQueries,
    TriggerQueries,
    StackQueries,
    VersionQueries,
):
    """Queries bound to one connection inside one transaction."""
