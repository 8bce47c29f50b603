"""Who may call what: every route of the app, with {no key, unknown key, wrong secret, each scope}.

The routes are enumerated from the application's OpenAPI document (which lists every route the
port answers) and its tables of FnF and MNS actions; each must have a rule in ``RULES`` /
``RPC_RULES`` / ``MNS_RULES``, so a new route without one fails here. Function Compute's HTTP
triggers are left to ``test_alibaba_apps.py``: each trigger says itself whether it needs a key.

A rule names the scope a route needs ("public": none); the expected status follows from it: no
key or a bad one 401 (FnF and MNS: Alibaba's codes), a scope that does not include it 403, one
that does: anything but 401/403. Keys are made with ``fnflow keys create``, some before
the server first starts (stored plain, then sealed by the server) and some after (sealed by the
command), and the database file is checked to hold none of their secrets in plain text.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from mns.mns_client import MNSClient

from fnflow.api.app import openapi_document
from fnflow.compat.alibaba import actions, signature
from fnflow.compat.alibaba.mns import answer, routes
from fnflow.services.keys import ALLOWED
from fnflow.testing import ServerProcess
from tests.e2e.fnf import create_key

pytestmark = pytest.mark.e2e

PUBLIC = "public"
RULES: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): "invoke",
    ("GET", "/api/v1/system/callback-key"): "admin",
    ("GET", "/api/v1/system/info"): "invoke",
    ("PUT", "/api/v1/flows/{flow}"): "admin",
    ("GET", "/api/v1/flows/{flow}"): "invoke",
    ("GET", "/api/v1/flows"): "invoke",
    ("DELETE", "/api/v1/flows/{flow}"): "admin",
    ("GET", "/api/v1/flows/{flow}/versions"): "invoke",
    ("GET", "/api/v1/flows/{flow}/versions/{version}"): "invoke",
    ("POST", "/api/v1/services/{service}/versions"): "admin",
    ("GET", "/api/v1/services/{service}/versions"): "invoke",
    ("GET", "/api/v1/services/{service}/versions/{version}"): "invoke",
    ("DELETE", "/api/v1/services/{service}/versions/{version}"): "admin",
    ("PUT", "/api/v1/services/{service}/aliases/{alias}"): "admin",
    ("GET", "/api/v1/services/{service}/aliases"): "invoke",
    ("GET", "/api/v1/services/{service}/aliases/{alias}"): "invoke",
    ("DELETE", "/api/v1/services/{service}/aliases/{alias}"): "admin",
    ("POST", "/api/v1/flows/{flow}/executions"): "invoke",
    ("GET", "/api/v1/flows/{flow}/executions"): "invoke",
    ("GET", "/api/v1/flows/{flow}/executions/{name}"): "invoke",
    ("GET", "/api/v1/flows/{flow}/executions/{name}/history"): "invoke",
    ("GET", "/api/v1/flows/{flow}/executions/{name}/definition"): "invoke",
    ("POST", "/api/v1/flows/{flow}/executions/{name}/redrive"): "invoke",
    ("POST", "/api/v1/flows/{flow}/executions/{name}/reset"): "invoke",
    ("POST", "/api/v1/flows/{flow}/executions/{name}/stop"): "invoke",
    ("GET", "/api/v1/flows/{flow}/graph"): "invoke",
    ("GET", "/api/v1/flows/{flow}/executions/{name}/graph"): "invoke",
    ("GET", "/api/v1/flows/{flow}/executions/{name}/progress"): "invoke",
    ("GET", "/api/v1/flows/{flow}/executions/{name}/watch"): "invoke",
    ("POST", "/api/v1/tasks/succeed"): "report-task",
    ("POST", "/api/v1/tasks/fail"): "report-task",
    ("PUT", "/api/v1/flows/{flow}/schedules/{name}"): "admin",
    ("GET", "/api/v1/flows/{flow}/schedules/{name}"): "invoke",
    ("GET", "/api/v1/flows/{flow}/schedules"): "invoke",
    ("DELETE", "/api/v1/flows/{flow}/schedules/{name}"): "admin",
    ("GET", "/api/v1/schedules"): "invoke",
    ("PUT", "/api/v1/schedules/{name}"): "admin",
    ("GET", "/api/v1/schedules/{name}"): "invoke",
    ("DELETE", "/api/v1/schedules/{name}"): "admin",
    ("PUT", "/api/v1/functions/{service}/{name}"): "admin",
    ("GET", "/api/v1/functions"): "invoke",
    ("POST", "/api/v1/functions/gc"): "admin",
    ("GET", "/api/v1/functions/{service}/{name}"): "invoke",
    ("DELETE", "/api/v1/functions/{service}/{name}"): "admin",
    ("POST", "/api/v1/functions/{service}/{name}/invoke"): "invoke",
    ("GET", "/api/v1/functions/{service}/{name}/logs"): "invoke",
    ("PUT", "/api/v1/functions/{service}/{name}/triggers/{trigger}"): "admin",
    ("GET", "/api/v1/functions/{service}/{name}/triggers"): "invoke",
    ("DELETE", "/api/v1/functions/{service}/{name}/triggers/{trigger}"): "admin",
    ("GET", "/api/v1/calls/{call_id}"): "invoke",
    ("GET", "/api/v1/calls"): "invoke",
    ("POST", "/api/v1/calls/{call_id}/stop"): "invoke",
    ("POST", "/api/v1/calls/redrive"): "invoke",
    ("PUT", "/api/v1/queues/{queue}"): "admin",
    ("GET", "/api/v1/queues/{queue}"): "invoke",
    ("GET", "/api/v1/queues"): "invoke",
    ("DELETE", "/api/v1/queues/{queue}"): "admin",
    ("POST", "/api/v1/queues/{queue}/messages"): "invoke",
    ("GET", "/api/v1/queues/{queue}/messages"): "invoke",
    ("DELETE", "/api/v1/queues/{queue}/messages/{receipt_handle}"): "invoke",
    ("PUT", "/api/v1/queues/{queue}/messages/{receipt_handle}/visibility"): "invoke",
    ("PUT", "/api/v1/topics/{topic}"): "admin",
    ("GET", "/api/v1/topics/{topic}"): "invoke",
    ("GET", "/api/v1/topics"): "invoke",
    ("DELETE", "/api/v1/topics/{topic}"): "admin",
    ("POST", "/api/v1/topics/{topic}/messages"): "invoke",
    ("PUT", "/api/v1/topics/{topic}/subscriptions/{name}"): "admin",
    ("GET", "/api/v1/topics/{topic}/subscriptions/{name}"): "invoke",
    ("GET", "/api/v1/topics/{topic}/subscriptions"): "invoke",
    ("DELETE", "/api/v1/topics/{topic}/subscriptions/{name}"): "admin",
    ("GET", "/api/v1/bins/{name}/requests"): "invoke",
    ("PUT", "/api/v1/stacks/{name}"): "admin",
    ("GET", "/api/v1/stacks/{name}"): "invoke",
    ("GET", "/api/v1/stacks"): "invoke",
    ("DELETE", "/api/v1/stacks/{name}"): "admin",
    ("GET", "/system/namespaces"): "invoke",
    ("GET", "/system/functions"): "invoke",
    ("POST", "/system/functions"): "admin",
    ("PUT", "/system/functions"): "admin",
    ("DELETE", "/system/functions"): "admin",
    ("GET", "/system/function/{name}"): "invoke",
    ("POST", "/system/scale-function/{name}"): "admin",
    ("GET", "/system/info"): "invoke",
    ("GET", "/system/logs"): "invoke",
    ("GET", "/system/secrets"): "invoke",
    ("POST", "/system/secrets"): "admin",
    ("PUT", "/system/secrets"): "admin",
    ("DELETE", "/system/secrets"): "admin",
    # the gateway (plain ASGI in front of the app)
    **{
        (method, path): "invoke"
        for path in ("/function/{name}", "/function/{name}/{path}")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
    ("POST", "/async-function/{name}"): "invoke",
    ("POST", "/async-function/{name}/{path}"): "invoke",
    # a request bin: a sink for callbacks, readable with a key
    **{(method, "/bin/{name}"): PUBLIC for method in ("GET", "POST", "PUT")},
}
RPC_RULES: dict[str, str] = {
    "CreateFlow": "admin",
    "UpdateFlow": "admin",
    "DeleteFlow": "admin",
    "DescribeFlow": "invoke",
    "ListFlows": "invoke",
    "StartExecution": "invoke",
    "StartSyncExecution": "invoke",
    "StopExecution": "invoke",
    "DescribeExecution": "invoke",
    "ListExecutions": "invoke",
    "GetExecutionHistory": "invoke",
    "ReportTaskSucceeded": "report-task",
    "ReportTaskFailed": "report-task",
    "CreateSchedule": "admin",
    "UpdateSchedule": "admin",
    "DescribeSchedule": "invoke",
    "ListSchedules": "invoke",
    "DeleteSchedule": "admin",
}
MNS_RULES: dict[str, str] = {
    **dict.fromkeys(("CreateQueue", "SetQueueAttributes", "DeleteQueue"), "admin"),
    **dict.fromkeys(("CreateTopic", "SetTopicAttributes", "DeleteTopic"), "admin"),
    **dict.fromkeys(("Subscribe", "SetSubscriptionAttributes", "Unsubscribe"), "admin"),
    **dict.fromkeys(("ListQueue", "GetQueueAttributes", "ListTopic", "GetTopicAttributes"), "invoke"),
    **dict.fromkeys(("SendMessage", "ReceiveMessage", "BatchReceiveMessage"), "invoke"),
    **dict.fromkeys(("PeekMessage", "BatchPeekMessage", "DeleteMessage", "BatchDeleteMessage"), "invoke"),
    **dict.fromkeys(("ChangeMessageVisibility", "PublishMessage"), "invoke"),
    **dict.fromkeys(("ListSubscriptionByTopic", "GetSubscriptionAttributes"), "invoke"),
}
SCOPES = ("admin", "invoke", "report-task")
WHO = ("none", "unknown", "wrong-secret", *SCOPES)
VALUES = {
    "flow": "matrix",
    "name": "nothing-here",
    "service": "matrix",
    "call_id": "no-such-call",
    "queue": "matrix",
    "topic": "matrix",
    "receipt_handle": "no-such-handle",
    "path": "sub/path",
    "subscription": "nothing-here",
    "version": "1",
    "alias": "nothing-here",
    "trigger": "nothing-here",
}
QUERIES = {"/api/v1/queues/{queue}/messages": "wait=0"}
WHOAMI = """
import json

def handle(event, context):
    return {"statusCode": 200, "body": json.dumps(dict(event.headers))}
"""


def app_routes() -> set[tuple[str, str]]:
    """Every (method, path) of fnflow's own API, as the OpenAPI document lists them (the Alibaba
    routes have their own tables)."""
    document = openapi_document()
    found = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "alibaba" not in operation.get("tags", ())
    }
    return found | {("GET", "/openapi.json")}


def test_every_route_has_a_rule() -> None:
    served = app_routes()
    assert served - RULES.keys() == set(), "routes without an auth rule: add them to RULES"
    assert RULES.keys() - served == set(), "rules for routes that do not exist"
    assert set(actions.ACTIONS) == set(RPC_RULES), "FnF actions without a rule (or rules without one)"
    assert {a: actions.ACTIONS[a].scope for a in RPC_RULES} == RPC_RULES
    assert {a: answer.ACTIONS[a].scope for a in answer.ACTIONS} == MNS_RULES


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    root = tmp_path_factory.mktemp("matrix")
    code = root / "apply"
    (code / "whoami").mkdir(parents=True)
    (code / "whoami" / "handler.py").write_text(WHOAMI)
    (code / "fnflow.yaml").write_text(
        "functions:\n  - {service: matrix, name: whoami, runtime: python3-http,"
        " handler: handler.handle, code: whoami}\n"
    )
    process = ServerProcess(root, "--auth", "on", "--apply", str(code))
    # admin and invoke before the server's first start (stored plain, sealed by the server at
    # start), report-task after it (sealed by the command with the key beside the database)
    keys = {scope: create_key(process.db, scope) for scope in ("admin", "invoke")}
    process.start()
    keys["report-task"] = create_key(process.db, "report-task")
    yield process, {scope: f"{key_id}:{secret}" for scope, (key_id, secret) in keys.items()}
    process.stop()


def headers_of(who: str, keys: dict[str, str]) -> dict[str, str]:
    if who == "none":
        return {}
    if who == "unknown":
        return {"Authorization": "Bearer FNFNOSUCHKEY0000000000:secret"}
    if who == "wrong-secret":
        return {"Authorization": f"Bearer {keys['admin'].split(':')[0]}:not-the-secret"}
    return {"Authorization": f"Bearer {keys[who]}"}


def expected(needed: str, who: str) -> int | None:
    """The status ``who`` must get from a route that needs ``needed``; None: anything but 401/403."""
    if needed == PUBLIC:
        return None
    if who in ("none", "unknown", "wrong-secret"):
        return 401
    return None if needed in ALLOWED[who] else 403


def test_every_route_refuses_and_admits_as_its_rule_says(
    secured: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, keys = secured
    wrong: list[str] = []
    cases = 0
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for (method, template), needed in sorted(RULES.items()):
            path = template.format(**VALUES)
            query = QUERIES.get(template, "")
            for who in WHO:
                body = b"{}" if method in ("POST", "PUT", "DELETE", "PATCH") else None
                response = http.request(
                    method,
                    f"{path}?{query}" if query else path,
                    content=body,
                    headers={**headers_of(who, keys), "Content-Type": "application/json"},
                )
                cases += 1
                want = expected(needed, who)
                got = response.status_code
                if (want is None and got in (401, 403)) or (want is not None and got != want) or got >= 500:
                    wrong.append(f"{method} {template} as {who}: {got} (want {want or 'not 401/403'})")
                if got in (401, 403):
                    assert set(response.json()) >= {"code", "message"}, response.text
    assert not wrong, "\n".join(wrong)
    assert cases == len(RULES) * len(WHO)


def _signed(action: str, key: tuple[str, str] | None) -> dict[str, str]:
    params = {
        "Action": action,
        "Version": actions.VERSION,
        "Format": "JSON",
        "RegionId": "cn-hangzhou",
    }
    if key is None:
        return params
    params |= {
        "AccessKeyId": key[0],
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    params["Signature"] = signature.sign("POST", params, key[1])
    return params


RPC_REFUSED = {
    "none": (400, "MissingRequiredParams"),
    "unknown": (403, "InvalidAccessKeyID"),
    "wrong-secret": (400, "SignatureDoesNotMatch"),
}


def test_every_fnf_action_refuses_and_admits_as_its_rule_says(
    secured: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, keys = secured
    admin_id = keys["admin"].split(":")[0]
    credentials: dict[str, tuple[str, str] | None] = {
        "none": None,
        "unknown": ("FNFNOSUCHKEY0000000000", "secret"),
        "wrong-secret": (admin_id, "not-the-secret"),
        **{scope: tuple(keys[scope].split(":", 1)) for scope in SCOPES},  # type: ignore[misc]
    }
    wrong: list[str] = []
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for action, needed in sorted(RPC_RULES.items()):
            for who in WHO:
                response = http.post("/", params=_signed(action, credentials[who]))
                answer = response.json()
                got = (response.status_code, answer.get("Code"))
                refused = got in RPC_REFUSED.values() and (
                    got[1] != "MissingRequiredParams" or "AccessKeyId" in answer["Message"]
                )
                if who in RPC_REFUSED:
                    right = refused and got == RPC_REFUSED[who]
                elif needed in ALLOWED[who]:
                    right = not refused and got != (403, "AccessDenied") and got[0] < 500
                else:
                    right = got == (403, "AccessDenied")
                if not right:
                    wrong.append(f"{action} as {who}: {got} {answer.get('Message')}")
    assert not wrong, "\n".join(wrong)


MNS_REFUSED = {
    "none": "MissingAuthorizationHeader",
    "unknown": "InvalidAccessKeyId",
    "wrong-secret": "SignatureDoesNotMatch",
}


def _mns_request(method: str, resource: str, key: tuple[str, str] | None, host: str) -> dict[str, str]:
    """The headers of an MNS request, signed by the SDK's own code when there is a key."""
    headers = {
        "x-mns-version": "2015-06-06",
        "date": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "host": host,
    }
    if key is not None:
        headers["Authorization"] = MNSClient(f"http://{host}", *key).get_signature(method, headers, resource)
    return headers


def test_every_mns_route_refuses_and_admits_as_its_action_s_rule_says(
    secured: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, keys = secured
    admin_id = keys["admin"].split(":")[0]
    credentials: dict[str, tuple[str, str] | None] = {
        "none": None,
        "unknown": ("FNFNOSUCHKEY0000000000", "secret"),
        "wrong-secret": (admin_id, "not-the-secret"),
        **{scope: tuple(keys[scope].split(":", 1)) for scope in SCOPES},  # type: ignore[misc]
    }
    host = server.url.removeprefix("http://")
    wrong: list[str] = []
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for method, template, _ in routes.TABLE:
            path = template.format(**VALUES)
            query = "waitseconds=0" if method == "GET" and path.endswith("/messages") else ""
            action, _names = routes.resolve(method, path, {"waitseconds": "0"} if query else {})
            needed = MNS_RULES[action]
            resource = f"{path}?{query}" if query else path
            for who in WHO:
                headers = _mns_request(method, resource, credentials[who], host)
                response = http.request(method, resource, headers=headers)
                code = re.search(rb"<Code>([^<]*)</Code>", response.content)
                got = (response.status_code, code.group(1).decode() if code else None)
                if who in MNS_REFUSED:
                    right = got[1] == MNS_REFUSED[who] and got[0] in (400, 401, 403)
                elif needed in ALLOWED[who]:
                    right = got[1] not in (*MNS_REFUSED.values(), "AccessDenied") and got[0] < 500
                else:
                    right = got == (403, "AccessDenied")
                if not right:
                    wrong.append(f"{method} {template} ({action}) as {who}: {got}")
    assert not wrong, "\n".join(wrong)


def test_no_secret_is_stored_in_plain_text(secured: tuple[ServerProcess, dict[str, str]]) -> None:
    server, keys = secured
    database = server.root / "fnflow.db"
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT id, secret, sealed_secret, secret_key_id FROM api_keys").fetchall()
        token_key = conn.execute("SELECT value FROM settings WHERE key = 'security_token_key'").fetchone()
    assert len(rows) == 4  # three of ours and the functions' own
    assert all(secret == "" and sealed and key_id for _, secret, sealed, key_id in rows)
    assert token_key is None or token_key[0].startswith("sealed:")
    files = b"".join(p.read_bytes() for p in server.root.glob("fnflow.db*"))
    for credentials in keys.values():
        assert credentials.split(":", 1)[1].encode() not in files


def test_the_callers_credentials_never_reach_a_function(
    secured: tuple[ServerProcess, dict[str, str]],
) -> None:
    """Neither in a synchronous call nor in an asynchronous one (stored, then run), in either form
    faas-cli and the SDKs send them (Bearer, Basic)."""
    server, keys = secured
    key_id, secret = keys["invoke"].split(":", 1)
    basic = httpx.BasicAuth(key_id, secret)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for auth in ({"Authorization": f"Bearer {keys['invoke']}"}, {}):
            response = http.post(
                "/function/whoami.matrix", content=b"hi", headers=auth, auth=None if auth else basic
            )
            assert response.status_code == 200, response.text
            seen = {k.lower(): v for k, v in response.json().items()}
            assert "authorization" not in seen
            assert secret not in response.text
        sink = f"{server.url}/bin/creds"
        accepted = http.post(
            "/async-function/whoami.matrix",
            content=b"hi",
            headers={"Authorization": f"Bearer {keys['invoke']}", "X-Callback-Url": sink},
        )
        assert accepted.status_code == 202, accepted.text
        call_id = accepted.headers["X-Call-Id"]
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        call = http.get(f"/api/v1/calls/{call_id}?wait=30", headers=admin).json()
        assert secret not in json.dumps(call)
        for _ in range(300):
            received = http.get("/api/v1/bins/creds/requests", headers=admin).json()["requests"]
            if received:
                break
            http.get(f"/api/v1/calls/{call_id}?wait=1", headers=admin)
        else:
            pytest.fail("the callback never came")
    assert received[0]["headers"]  # the callback itself came with its own headers, not ours
    assert secret not in json.dumps(received[0].get("body"))
    assert "authorization" not in {k.lower() for k in json.loads(received[0]["body"]) if received[0]["body"]}
    assert secret not in server.log()
