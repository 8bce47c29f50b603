"""Schemathesis over the OpenAPI document, against a real server: valid and invalid requests to
every operation get no 5xx, no stack trace, an error body ``{"code", "message"}``, and answers
that match the document (status codes, content types, bodies).

Bounded for ``make test`` (``FUZZ_EXAMPLES`` per operation); ``FNFLOW_FUZZ_SCALE=25`` runs
longer (``tests/fuzzing.py``). Left out: the operations that make the server connect elsewhere
(deploying functions, which may name an http upstream; topic subscriptions, whose endpoints are
resolved and pushed to) — a fuzzer must not send a server's traffic off this machine; their
input checks are unit- and end-to-end-tested.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fnflow.api.app import openapi_document
from fnflow.testing import ServerProcess
from tests.fuzzing import examples

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("fuzz-api")]

FUZZ_EXAMPLES = examples(20)
#: operations that would make the server connect to what the fuzzer names
OUTBOUND = {
    ("PUT", "/api/v1/functions/{service}/{name}"),
    ("POST", "/system/functions"),
    ("PUT", "/system/functions"),
    ("PUT", "/api/v1/topics/{topic}/subscriptions/{name}"),
}


schema = (
    schemathesis.openapi.from_dict(openapi_document())
    .exclude(func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in OUTBOUND)
    .exclude(tag="alibaba")  # Alibaba's error shapes; driven by their SDKs in test_fnf_sdk, test_mns_*
)


SENT: Counter[str] = Counter()  # requests sent, by operation


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(Path(tmp_path_factory.mktemp("fuzz"))).start()
    yield process
    process.stop()
    print(f"\nschemathesis: {sum(SENT.values())} requests over {len(SENT)} operations")


def no_stack_trace(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    text = response.text
    assert "Traceback" not in text and 'File "' not in text, f"a stack trace in the answer: {text[:500]}"
    if response.status_code >= 400 and response.headers.get("content-type", [""])[0].startswith(
        "application/json"
    ):
        body = response.json()
        assert isinstance(body, dict) and {"code", "message"} <= body.keys(), f"not {{code, message}}: {text}"
        assert ": JSON decode error" not in body["message"], body["message"]
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    no_stack_trace,
]


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_any_request_within_its_document(
    case: schemathesis.Case, fuzzed_server: ServerProcess
) -> None:
    if case.path == "/api/v1/queues/{queue}/messages" and case.method == "GET":
        case.query = {**(case.query or {}), "wait": 0}  # a long-poll would only slow the run
    if case.operation.path.endswith("/executions/{name}") and case.query:
        case.query.pop("wait", None)
    response = case.call(base_url=fuzzed_server.url, timeout=30)
    SENT[case.operation.label] += 1
    case.validate_response(response, checks=CHECKS)
