"""Reading FnF's parameters, naming its endpoints, and mapping fnflow's errors to Alibaba's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fnflow import errors
from fnflow.api.proxied import EXTENSION, as_origin, authority, names_server, origin_path
from fnflow.compat.alibaba.errors import from_fnflow
from fnflow.compat.alibaba.hosts import is_fnf_host
from fnflow.compat.alibaba.params import MissingParameter, Params, decode

FORM = "application/x-www-form-urlencoded; charset=UTF-8"


def test_decode_joins_query_and_form_body() -> None:
    params = decode(
        "Action=ReportTaskSucceeded&TaskToken=a%2Fb%2B%3D", b"Output=%7B%22k%22%3A+%22v+w%22%7D", FORM
    )
    assert params == {"Action": "ReportTaskSucceeded", "TaskToken": "a/b+=", "Output": '{"k": "v w"}'}
    assert decode("SignatureType=&A=1", b"", "") == {"SignatureType": "", "A": "1"}


@pytest.mark.parametrize(
    ("query", "body", "content_type"),
    [
        ("A=1&A=2", b"", ""),  # twice in the query
        ("A=1", b"A=2", FORM),  # in the query and the body
        ("A=1", b'{"A": 1}', "application/json"),  # not a form
        ("A=1", b"A=\xff", FORM),  # not UTF-8
        ("A=%ff", b"", ""),  # percent-encoded bytes that are not UTF-8
    ],
)
def test_decode_refuses(query: str, body: bytes, content_type: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        decode(query, body, content_type)


def params(**values: str) -> Params:
    return Params({"Action": "X", "Signature": "s", **values}, max_json_bytes=64)


def test_typed_reads() -> None:
    p = params(
        Limit="10", Enable="True", Off="false", Input='{"a": 1}', Empty="", When="2020-12-02T02:39:20.402Z"
    )
    assert p.integer("Limit", default=60, low=1, high=99) == 10
    assert p.integer("Missing", default=60, low=1, high=99) == 60
    assert (p.boolean("Enable"), p.boolean("Off"), p.boolean("Missing")) == (True, False, None)
    assert p.json_object("Input") == {"a": 1} and p.json_object("Empty") == {} and p.json_object("No") is None
    assert p.time("When") == datetime(2020, 12, 2, 2, 39, 20, 402000, tzinfo=UTC)
    assert p.text("Action") is None  # protocol parameters are not an action's
    assert p.choice("Enable", ("True", "False")) == "True"


@pytest.mark.parametrize(
    ("read", "kind"),
    [
        (lambda p: p.required("Name"), MissingParameter),
        (lambda p: p.required("Empty"), MissingParameter),
        (lambda p: p.integer("Limit", default=1, low=1, high=5), errors.InvalidArgument),
        (lambda p: p.integer("Word", default=1, low=1, high=5), errors.InvalidArgument),
        (lambda p: p.boolean("Word"), errors.InvalidArgument),
        (lambda p: p.json_object("Word"), errors.InvalidArgument),
        (lambda p: p.json_object("List"), errors.InvalidArgument),
        (lambda p: p.json_object("Big"), errors.PayloadTooLarge),
        (lambda p: p.time("Word"), errors.InvalidArgument),
        (lambda p: p.choice("Word", ("Running",)), errors.InvalidArgument),
        (lambda p: p.text("Word", max_length=3), errors.InvalidArgument),
    ],
)
def test_typed_reads_refuse(read: object, kind: type[Exception]) -> None:
    p = params(Empty="", Limit="6", Word="word", List="[1]", Big='{"k": "' + "x" * 64 + '"}')
    with pytest.raises(kind):
        read(p)  # type: ignore[operator]


@pytest.mark.parametrize(
    "host",
    [
        "cn-hangzhou.fnf.aliyuncs.com",
        "cn-hangzhou.fnf.aliyuncs.com:80",
        "fnf.ap-southeast-1.aliyuncs.com",
        "cn-shanghai-internal.fnf.aliyuncs.com",
        "fnf-vpc.cn-beijing.aliyuncs.com",
        "CN-HANGZHOU.FNF.ALIYUNCS.COM",
    ],
)
def test_fnf_hosts(host: str) -> None:
    assert is_fnf_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "fnf.aliyuncs.com.evil.com",
        "ecs.cn-hangzhou.aliyuncs.com",
        "127.0.0.1:8080",
        "",
        "[::1]:80",
    ],
)
def test_other_hosts(host: str) -> None:
    assert not is_fnf_host(host)


def test_absolute_targets_from_either_protocol() -> None:
    h11 = {"path": "http://cn-hangzhou.fnf.aliyuncs.com/", "query_string": b"Action=ListFlows"}
    assert (authority(h11), origin_path(h11)) == ("cn-hangzhou.fnf.aliyuncs.com", "/")
    httptools = {"path": "/", "extensions": {EXTENSION: {"authority": "example.com:8080"}}}
    assert (authority(httptools), origin_path(httptools)) == ("example.com:8080", "/")
    ordinary = {"path": "/api/v1/flows"}
    assert (authority(ordinary), origin_path(ordinary)) == (None, "/api/v1/flows")


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.FlowNotFound(), 404, "FlowNotExists"),
        (errors.ExecutionNotFound(), 404, "ExecutionNotExists"),
        (errors.ScheduleNotFound(), 404, "ScheduleNotExists"),
        (errors.FlowAlreadyExists(), 409, "FlowAlreadyExists"),
        (errors.ExecutionAlreadyExists(), 400, "ExecutionAlreadyExists"),
        (errors.PayloadTooLarge(), 400, "EntityTooLarge"),
        (errors.InvalidDefinition([]), 400, "InvalidArgument"),
        (MissingParameter(), 400, "MissingRequiredParams"),
        (errors.WrongExecutionMode(), 400, "ActionNotSupported"),
        (errors.TaskAlreadyCompleted(), 400, "TaskAlreadyCompleted"),
        (errors.Conflict(), 409, "ResourceInUse"),
        (errors.Forbidden(), 403, "AccessDenied"),
        (errors.Unavailable(), 503, "ServiceUnavailable"),
        (errors.FnflowError(), 500, "InternalServerError"),
    ],
)
def test_errors_map_to_alibaba_codes(error: errors.FnflowError, status: int, code: str) -> None:
    mapped = from_fnflow(error)
    assert (mapped.status, mapped.code, mapped.message) == (status, code, error.message)


def test_a_proxy_request_for_the_server_itself_is_an_ordinary_one() -> None:
    scope = {"server": ("127.0.0.1", 8080), "path": "http://127.0.0.1:8080/api/v1/flows"}
    assert names_server("127.0.0.1:8080", scope, "http://127.0.0.1:8080")
    assert names_server("localhost:8080", scope, "http://127.0.0.1:8080")
    assert names_server("fnflow.example.com", scope, "http://fnflow.example.com")  # its public URL
    assert not names_server("127.0.0.1:9090", scope, "http://127.0.0.1:8080")
    assert not names_server("example.com:8080", scope, "http://127.0.0.1:8080")
    assert not names_server("127.0.0.1:port", scope, "http://127.0.0.1:8080")
    assert as_origin(scope)["path"] == "/api/v1/flows" and as_origin(scope)["raw_path"] == b"/api/v1/flows"
    assert as_origin({"path": "/x"}) == {"path": "/x"}
