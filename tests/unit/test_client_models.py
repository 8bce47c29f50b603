"""The client's pure parts: API JSON into dataclasses, error responses into exceptions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fnflow.client import (
    ApiError,
    ConflictError,
    Execution,
    Flow,
    ForbiddenError,
    InvalidArgumentError,
    NotFoundError,
    Page,
    UnauthorizedError,
)
from fnflow.client.errors import api_error

EXECUTION = {
    "name": "e1",
    "flowName": "f",
    "status": "Failed",
    "input": {"a": 1},
    "output": None,
    "error": "E",
    "cause": "why",
    "startedTime": "2026-01-02T03:04:05.678Z",
    "stoppedTime": None,
}


def test_execution_from_json_keeps_the_raw_answer() -> None:
    e = Execution.from_json(EXECUTION)
    assert e.started_time == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert e.stopped_time is None and e.input == {"a": 1}
    assert e.finished and not e.succeeded
    assert e.raw is EXECUTION
    assert e == Execution.from_json(dict(EXECUTION))  # raw takes no part in equality
    assert "raw" not in repr(e)


@pytest.mark.parametrize(
    ("status", "finished"), [("Running", False), ("Starting", False), ("TimedOut", True)]
)
def test_finished(status: str, finished: bool) -> None:
    assert Execution.from_json({**EXECUTION, "status": status}).finished is finished


def test_page_from_json() -> None:
    flow = {"name": "f", "id": "1", "definition": "d", "revision": 3, "createdTime": None}
    page = Page.from_json({"flows": [flow], "nextToken": "t"}, "flows", Flow.from_json)
    assert page.next_token == "t"
    assert [(f.name, f.revision, f.description, f.created_time) for f in page.items] == [("f", 3, "", None)]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidArgumentError),
        (401, UnauthorizedError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, InvalidArgumentError),
        (500, ApiError),
    ],
)
def test_error_class_follows_the_status(status: int, cls: type[ApiError]) -> None:
    error = api_error(status, {"code": "Some", "message": "text"}, "")
    assert type(error) is cls
    assert (error.status, error.code, error.message, str(error), error.errors) == (
        status,
        "Some",
        "text",
        "text",
        [],
    )


def test_definition_problems_are_kept() -> None:
    problems = [{"path": "steps[0]", "message": "bad", "line": 4, "column": 5}]
    error = api_error(400, {"code": "InvalidDefinition", "message": "invalid", "errors": problems}, "")
    assert error.errors == problems


def test_an_answer_that_is_not_fnflow_json() -> None:
    error = api_error(502, None, "<html>Bad Gateway</html>\n")
    assert (error.code, error.message) == ("HTTP502", "<html>Bad Gateway</html>")
    assert api_error(503, {"status": "unavailable"}, "").message == "the server answered HTTP 503"
