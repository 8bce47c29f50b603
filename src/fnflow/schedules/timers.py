"""Function Compute's timer triggers, fired by the scheduler: one asynchronous call of the function
per tick, with FC's timer event ``{"triggerTime", "triggerName", "payload"}`` as its body.

A tick is one transaction, as a schedule's is: move the trigger's ``next_fire_at`` on from the
value read (compare-and-set) and, only if that succeeded, store the call. The call's id is made
of the trigger and the tick, so a tick stored twice would still run once.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from fnflow.asyncq.deliver import async_call
from fnflow.asyncq.dispatcher import CALLS
from fnflow.schedules.cron import parse
from fnflow.store import CallRecord, TriggerRecord, Tx

_STAMP = "%Y-%m-%dT%H:%M:%SZ"


def timer_event(record: TriggerRecord, tick: datetime) -> bytes:
    event = {
        "triggerTime": tick.astimezone(UTC).strftime(_STAMP),
        "triggerName": record.name,
        "payload": str(record.config.get("payload", "")),
    }
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def call_id(record: TriggerRecord, tick: datetime) -> str:
    from fnflow.schedules.scheduler import execution_name  # the same shortening of long names

    return "timer-" + execution_name(f"{record.service}.{record.function}.{record.name}", tick)


def fire(tx: Tx, record: TriggerRecord, now: datetime) -> CallRecord | None:
    """Claim the timer's tick and store its call; None if another process fired it, the timer
    changed meanwhile, or its function is gone."""
    expected = record.next_fire_at
    assert expected is not None
    timing = parse(str(record.config.get("cronExpression", "")), min_interval=0)
    tick = timing.latest(expected, now)
    if not tx.advance_trigger(
        record.service, record.function, record.name, expected, timing.next_after(tick)
    ):
        return None
    headers = [("Content-Type", "application/octet-stream")]
    call = async_call(tx, record.service, record.function, timer_event(record, tick), headers, now)
    if call is None:
        return None
    stored = tx.insert_calls([replace(call, id=call_id(record, tick))])
    tx.notify(CALLS, "")
    return stored[0][0]
