"""Malformed and truncated JSON gets an answer a person can read — on every route that takes a JSON
body (native API, OpenFaaS ``/system``, queues and topics, enumerated from the OpenAPI document)
and in the FnF RPC API's JSON parameters: 400, ``{"code", "message"}``, a message that says the
body (or the parameter) is not valid JSON and where, never ``13: JSON decode error``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fnflow.api.app import openapi_document
from fnflow.compat.alibaba import actions
from fnflow.testing import ServerProcess

pytestmark = pytest.mark.e2e

BROKEN = [
    b'{"definition": "version: v1',  # cut in a string
    b'{"definition": ',  # cut after a colon
    b"{",
    b"[1, 2",
    b'{"a": 1}}',  # one brace too many
    b"\x00",
    b"\xff\xfe{}",  # not UTF-8
    b"{'single': 'quotes'}",
    b"",  # nothing at all
]
VALUES = {"flow": "f", "name": "n", "service": "s", "call_id": "c", "queue": "q", "topic": "t"}
VALUES |= {"receipt_handle": "h", "alias": "a", "version": "1", "trigger": "t"}
FNF_JSON_PARAMS = {"StartExecution": "Input", "ReportTaskSucceeded": "Output", "CreateSchedule": "Payload"}


def json_routes() -> list[tuple[str, str]]:
    doc = openapi_document()
    return sorted(
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(Path(tmp_path_factory.mktemp("malformed"))).start()
    yield process
    process.stop()


def readable(message: str) -> bool:
    return not re.search(r"\d+: JSON decode error", message) and len(message) > 20


def test_every_json_route_says_what_is_wrong_with_a_broken_body(server: ServerProcess) -> None:
    routes = json_routes()
    assert len(routes) > 20  # the enumeration found the routes
    wrong: list[str] = []
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for method, template in routes:
            path = template.format(**VALUES)
            for body in BROKEN:
                response = http.request(
                    method, path, content=body, headers={"Content-Type": "application/json"}
                )
                answer = response.json()
                if response.status_code != 400 or not readable(answer.get("message", "")):
                    wrong.append(f"{method} {template} {body!r}: {response.status_code} {answer}")
                elif body and b"definition" not in body and "JSON" not in answer["message"]:
                    wrong.append(f"{method} {template} {body!r}: does not say it is not JSON: {answer}")
    assert not wrong, "\n".join(wrong[:40])


def test_a_broken_body_says_where(server: ServerProcess) -> None:
    answer = httpx.put(
        f"{server.url}/api/v1/flows/f",
        content=b'{"definition": "x",\n "description": }',
        headers={"Content-Type": "application/json"},
    ).json()
    assert answer["code"] == "InvalidArgument"
    assert answer["message"].startswith("the request body is not valid JSON at character 37"), answer


def test_fnf_json_parameters_say_what_is_wrong(server: ServerProcess) -> None:
    for action, name in FNF_JSON_PARAMS.items():
        assert action in actions.ACTIONS
        for text in ('{"a": ', "{", "[1,", "nope"):
            params = {
                "Action": action,
                "Version": actions.VERSION,
                "FlowName": "f",
                "TaskToken": "t",
                "ScheduleName": "s",
                "CronExpression": "0 * * * * *",
                name: text,
            }
            response = httpx.post(f"{server.url}/", params=params)
            answer = response.json()
            assert response.status_code == 400, (action, text, answer)
            assert readable(answer["Message"]) and name.lower() in answer["Message"].lower(), (
                action,
                text,
                answer,
            )


LONE_SURROGATES = [
    ("POST", "/api/v1/queues/q/messages", '{"body": "a\\ud800b"}'),
    ("POST", "/api/v1/topics/t/messages", '{"body": "a\\udfffb"}'),
    ("PUT", "/api/v1/flows/g", '{"definition": "version: v1", "description": "\\ud800"}'),
    (
        "PUT",
        "/api/v1/schedules/s",
        '{"flowName": "g", "cronExpression": "0 * * * * *", "payload": "\\ud800"}',
    ),
    ("POST", "/system/secrets", '{"name": "s", "value": "\\ud800"}'),
]


def test_text_that_is_no_text_is_refused_not_a_crash(server: ServerProcess) -> None:
    """JSON may escape half a UTF-16 surrogate pair (``\\ud800``): no database or client can hold
    that, so it is a 400 wherever it comes, never a 500."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.put("/api/v1/queues/q", json={})
        http.put("/api/v1/topics/t", json={})
        for method, path, body in LONE_SURROGATES:
            response = http.request(method, path, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 400, (path, response.text)
            answer = response.json()
            says = "surrogate" in answer["message"] or re.search(r"U\+D[89A-F][0-9A-F]{2}", answer["message"])
            assert says or answer["code"] == "InvalidDefinition", answer
