"""End-to-end: the saga example (FunctionFlow best practice 2) against a real server."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from fnflow.testing import ServerProcess
from tests.e2e.api import history, start, steps, wait

HERE = Path(__file__).parent


def when(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


OK = {
    "buy_train_ticket_result": "success",
    "reserve_flight_result": "success",
    "reserve_hotel_result": "success",
}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ServerProcess(tmp_path_factory.mktemp("saga"), "--apply", str(HERE)).start()
    yield server.url
    server.stop()


def test_all_bookings_succeed(url: str) -> None:
    execution = wait(url, "book-trip", start(url, "book-trip", OK)["name"])
    assert execution["status"] == "Succeeded"
    output = execution["output"]
    assert output["buy_train_ticket"] == output["reserve_flight"] == output["reserve_hotel"] == "success"
    assert all(output[f"{op}_txnID"] for op in ("buy_train_ticket", "reserve_flight", "reserve_hotel"))


def test_hotel_failure_retries_then_compensates(url: str) -> None:
    name = start(url, "book-trip", {**OK, "reserve_hotel_result": "fail"})["name"]
    execution = wait(url, "book-trip", name)
    assert execution["status"] == "Failed"
    assert execution["error"] == "OrderFailed"
    events = history(url, "book-trip", name)
    # ReserveHotel ran 4 times (3 retries on FC.Unknown), then the flight and the ticket were cancelled.
    assert steps(events, "TaskScheduled") == [
        "BuyTrainTicket",
        "ReserveFlight",
        "ReserveHotel",
        "ReserveHotel",
        "ReserveHotel",
        "ReserveHotel",
        "CancelFlight",
        "CancelTrainTicket",
    ]
    failures = [e["eventDetail"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failures] == ["FC.Unknown"] * 4
    assert "Process exited unexpectedly" in failures[0]["cause"]
    caught = next(e for e in events if e["type"] == "StepExited" and e["stepName"] == "ReserveHotel")
    assert caught["eventDetail"]["goto"] == "CancelFlight"
    assert caught["eventDetail"]["output"] == {"hotel_error": "FC.Unknown"}
    # The compensations received the transaction ids of the bookings they undo.
    inputs = {e["stepName"]: e["eventDetail"]["input"] for e in events if e["type"] == "TaskScheduled"}
    booked = {e["stepName"]: e["eventDetail"]["output"] for e in events if e["type"] == "TaskSucceeded"}
    assert inputs["CancelFlight"]["reserve_flight_txnID"] == booked["ReserveFlight"]["reserve_flight_txnID"]
    assert (
        inputs["CancelTrainTicket"]["buy_train_ticket_txnID"]
        == booked["BuyTrainTicket"]["buy_train_ticket_txnID"]
    )
    # The back-off doubled: the retries came 1 s, 2 s and 4 s after each failure.
    hotel = [
        e for e in events if e["stepName"] == "ReserveHotel" and e["type"] in ("TaskFailed", "TaskScheduled")
    ]
    gaps = [
        (when(later["time"]) - when(failed["time"])).total_seconds()
        for failed, later in itertools.pairwise(hotel)
        if failed["type"] == "TaskFailed" and later["type"] == "TaskScheduled"
    ]
    assert [round(g) for g in gaps] == [1, 2, 4], gaps


def test_custom_error_is_retried_until_it_succeeds(url: str) -> None:
    name = start(url, "book-trip", {**OK, "reserve_hotel_result": "flaky"})["name"]
    execution = wait(url, "book-trip", name)
    assert execution["status"] == "Succeeded", execution
    events = history(url, "book-trip", name)
    assert [e["eventDetail"]["error"] for e in events if e["type"] == "TaskFailed"] == ["ErrorNeedsRetry"] * 2
    assert (
        "the remote service is busy"
        in next(e for e in events if e["type"] == "TaskFailed")["eventDetail"]["cause"]
    )


def test_flight_failure_cancels_the_ticket_without_retrying(url: str) -> None:
    name = start(url, "book-trip", {**OK, "reserve_flight_result": "fail"})["name"]
    execution = wait(url, "book-trip", name)
    assert execution["status"] == "Failed"
    events = history(url, "book-trip", name)
    assert steps(events, "TaskScheduled") == ["BuyTrainTicket", "ReserveFlight", "CancelTrainTicket"]
    assert steps(events, "StepEntered")[-1] == "OrderFailed"
