"""Simulates one remote booking call (buy a train ticket, reserve a flight or a hotel, or cancel one).

The execution input decides the outcome of each operation:
  "success"  the call succeeds and returns a transaction id;
  "fail"     the process exits, as a crashed call would: Function Compute reports FC.Unknown;
  "flaky"    the call raises ErrorNeedsRetry on its first two attempts, then succeeds.
"""

import json
import logging
import uuid

logger = logging.getLogger()


class ErrorNeedsRetry(Exception):
    """A transient failure; the flow's retry policy for this error name tries the step again."""


def handler(event, context):
    evt = json.loads(event)
    op = evt.get("operation", "operation")
    result = evt.get(op)
    if result == "fail":
        logger.info("%s failed", op)
        exit()
    if result == "flaky" and evt.get("attempt", 0) < 2:
        raise ErrorNeedsRetry(f"{op}: the remote service is busy, try again")
    txn_id = str(uuid.uuid4())
    logger.info("%s succeeded, id %s", op, txn_id)
    return json.dumps({op: "success", f"{op}_txnID": txn_id})
