"""Engine: the two flows of seed 004 (FunctionFlow best practices), run against simulated functions.

The flows are the seed's, with the OCR damage repaired (``job id`` → ``job_id``, ``try count`` →
``try_count``, ``buy train ticket`` → ``buy_train_ticket``, the split ``GetJobStatu s`` ARN, the
``{region}``/``{accountID}`` placeholders filled in) and the saga's garbled tail rebuilt: CancelTrainTicket
cancels the ticket by its own txnID and falls through into the ``OrderFailed`` fail step that
BuyTrainTicket's catch already names.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from fnflow.engine import ScheduleTask, Status
from tests.seed_flows import POLL_FOR_TASK_STATUS
from tests.seed_flows import SAGA as SAGA_FLOW

try:
    from engine_harness import T0, Harness, load
except ImportError:  # pragma: no cover - tests/unit imported as a package
    from tests.unit.engine_harness import T0, Harness, load

POLL = load(POLL_FOR_TASK_STATUS)


def poll_functions(started: list[datetime]) -> Any:
    """StartJob and GetJobStatus as the seed writes them, on the virtual clock."""

    def worker(task: ScheduleTask, now: datetime) -> dict[str, Any]:
        if task.step == "StartJob":
            started.append(now)
            return {"job_id": "job-1"}
        evt = task.input
        delay = evt["delay"] if evt.get("delay") is not None else 60
        status = "success" if (now - started[0]).total_seconds() > delay else "running"
        return {"job_id": evt["job_id"], "job_status": status, "try_count": (evt.get("try_count") or 0) + 1}

    return worker


def test_poll_loop_until_the_job_succeeds() -> None:
    started: list[datetime] = []
    h = Harness(POLL, {"delay": 20})
    h.drive(poll_functions(started))
    assert h.status is Status.SUCCEEDED
    assert h.output == {"job_id": "job-1", "try_count": 3, "job_status": "success"}
    assert h.steps() == [
        "StartJob",
        "Init",
        "Wait10s",
        "GetJobStatus",
        "CheckJobComplete",
        "Wait10s",
        "GetJobStatus",
        "CheckJobComplete",
        "Wait10s",
        "GetJobStatus",
        "CheckJobComplete",
        "JobSucceeded",
    ]
    assert h.timer_times() == [10.0, 20.0, 30.0]
    assert [t.input for t in h.scheduled] == [
        {"delay": 20},  # no inputMappings: the flow input
        {"job_id": "job-1", "delay": 20, "try_count": 0},
        {"job_id": "job-1", "delay": 20, "try_count": 1},
        {"job_id": "job-1", "delay": 20, "try_count": 2},
    ]
    assert [e.detail["input"] for e in h.events("StepEntered", "CheckJobComplete")] == [
        {"status": "running", "try_count": 1},
        {"status": "running", "try_count": 2},
        {"status": "success", "try_count": 3},
    ]
    assert h.last("ExecutionSucceeded").time == T0 + timedelta(seconds=30)


def test_poll_loop_gives_up_after_more_than_three_tries() -> None:
    h = Harness(POLL, {"delay": 1000})
    h.drive(poll_functions([]))
    assert h.status is Status.FAILED
    assert h.steps()[-3:] == ["GetJobStatus", "CheckJobComplete", "JobFailed"]
    assert h.steps().count("GetJobStatus") == 4
    assert h.timer_times() == [10.0, 20.0, 30.0, 40.0]
    assert h.trace()[-2:] == ["StepFailed:JobFailed", "ExecutionFailed"]


def test_poll_loop_survives_a_stop_while_waiting() -> None:
    h = Harness(POLL, {"delay": 20})
    h.succeed("StartJob", {"job_id": "j"})
    (timer,) = h.timers
    h.stop("Cancelled", "user")
    assert h.status is Status.STOPPED
    assert h.error == ("Cancelled", "user")
    assert h.cancelled_timers == [timer]
    assert h.trace()[-3:] == ["StepExited:Init", "StepEntered:Wait10s", "ExecutionStopped"]


SAGA = load(SAGA_FLOW)


def operation(failures: dict[str, int]) -> Any:
    """The seed's Operation function: ``evt[op]`` false or "fail" makes the process exit (FC.Unknown).
    ``failures[op]`` limits how many times an op fails before it starts to succeed."""

    calls: dict[str, int] = {}

    def worker(task: ScheduleTask, now: datetime) -> dict[str, Any] | tuple[str, str]:
        evt = task.input
        op = evt.get("operation", "operation")
        calls[op] = calls.get(op, 0) + 1
        if evt.get(op) in (False, "fail") and calls[op] <= failures.get(op, 1000):
            return ("FC.Unknown", '{"errorMessage":"Process exited unexpectedly before completing request"}')
        return {op: "success", f"{op}_txnID": f"{op}-{calls[op]}"}

    return worker


ALL_OK = {
    "buy_train_ticket_result": "success",
    "reserve_flight_result": "success",
    "reserve_hotel_result": "success",
}
BOOKED = ["BuyTrainTicket", "ReserveFlight", "ReserveHotel"]


@pytest.mark.parametrize(
    ("input", "failures", "steps", "status", "hotel_attempts"),
    [
        pytest.param(ALL_OK, {}, [*BOOKED, "OrderSucceeded"], Status.SUCCEEDED, 1, id="all-booked"),
        pytest.param(
            {**ALL_OK, "reserve_hotel_result": "fail"},
            {"reserve_hotel": 2},
            [*BOOKED, "OrderSucceeded"],
            Status.SUCCEEDED,
            3,
            id="hotel-recovers-on-retry",
        ),
        pytest.param(
            {**ALL_OK, "reserve_hotel_result": "fail"},
            {},
            [*BOOKED, "CancelFlight", "CancelTrainTicket", "OrderFailed"],
            Status.FAILED,
            4,
            id="hotel-fails-compensate-flight-and-train",
        ),
        pytest.param(
            {**ALL_OK, "reserve_flight_result": False},
            {},
            ["BuyTrainTicket", "ReserveFlight", "CancelTrainTicket", "OrderFailed"],
            Status.FAILED,
            0,
            id="flight-fails-compensate-train",
        ),
        pytest.param(
            {**ALL_OK, "buy_train_ticket_result": "fail"},
            {},
            ["BuyTrainTicket", "OrderFailed"],
            Status.FAILED,
            0,
            id="train-fails",
        ),
    ],
)
def test_saga(
    input: dict[str, Any], failures: dict[str, int], steps: list[str], status: Status, hotel_attempts: int
) -> None:
    h = Harness(SAGA, input)
    h.drive(operation(failures))
    assert h.steps() == steps
    assert h.status is status
    assert len(h.events("TaskScheduled", "ReserveHotel")) == hotel_attempts
    backoff = [1.0, 3.0, 7.0][: max(hotel_attempts - 1, 0)]  # 1 s, then 2 s, then 4 s after each failure
    assert h.timer_times() == backoff
    if status is Status.FAILED:
        assert h.error == ("OrderFailed", "the order could not be completed")
        assert h.output is None
    else:
        n = hotel_attempts
        assert h.output == {
            "buy_train_ticket": "success",
            "buy_train_ticket_txnID": "buy_train_ticket-1",
            "reserve_flight": "success",
            "reserve_flight_txnID": "reserve_flight-1",
            "reserve_hotel": "success",
            "reserve_hotel_txnID": f"reserve_hotel-{n}",
        }


def test_saga_compensations_receive_the_transaction_ids() -> None:
    h = Harness(SAGA, {**ALL_OK, "reserve_hotel_result": "fail"})
    h.drive(operation({}))
    by_step = {t.step: t.input for t in h.scheduled}
    assert by_step["ReserveHotel"] == {"operation": "reserve_hotel", "reserve_hotel": "fail"}
    assert by_step["CancelFlight"] == {
        "operation": "cancel_flight",
        "reserve_flight_txnID": "reserve_flight-1",
    }
    assert by_step["CancelTrainTicket"] == {
        "operation": "cancel_train_ticket",
        "buy_train_ticket_txnID": "buy_train_ticket-1",
    }
    caught = h.last("StepExited", "ReserveHotel")
    assert caught.detail == {
        "output": {},
        "error": "FC.Unknown",
        "cause": '{"errorMessage":"Process exited unexpectedly before completing request"}',
        "retryCount": 3,
        "goto": "CancelFlight",
    }
    assert h.trace("TaskScheduled", "TaskFailed", "TaskSucceeded")[4:] == [
        "TaskScheduled:ReserveHotel",
        "TaskFailed:ReserveHotel",
        "TaskScheduled:ReserveHotel",
        "TaskFailed:ReserveHotel",
        "TaskScheduled:ReserveHotel",
        "TaskFailed:ReserveHotel",
        "TaskScheduled:ReserveHotel",
        "TaskFailed:ReserveHotel",
        "TaskScheduled:CancelFlight",
        "TaskSucceeded:CancelFlight",
        "TaskScheduled:CancelTrainTicket",
        "TaskSucceeded:CancelTrainTicket",
    ]
