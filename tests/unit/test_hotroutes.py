"""The plain-ASGI start and describe routes (``fnflow.api.hotroutes``) answer exactly as the FastAPI
routes they stand in front of: the same requests go through ``HotRoutes`` and to the FastAPI app
alone, on one fnflow (SQLite, opened in this process), and the answers are compared byte for byte.
A count of what ``HotRoutes`` handed over shows which requests it answered itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from fnflow.api.app import create_app
from fnflow.api.hotroutes import HotRoutes
from fnflow.app import Fnflow
from fnflow.config import Settings

FLOW = """\
version: v1
type: flow
steps:
  - {type: pass, name: p, outputMappings: [{target: x, source: $input.x}]}
"""
#: a step that sends its task token to queue q and waits for a report
WAITING = """\
version: v1
type: flow
steps:
  - type: task
    name: w
    resourceArn: acs:mns:::/queues/q/messages
    pattern: waitForCallback
    inputMappings: [{target: token, source: $context.task.token}]
    serviceParams: {MessageBody: $}
"""
START = "/api/v1/flows/f/executions"
SUCCEED, FAIL = "/api/v1/tasks/succeed", "/api/v1/tasks/fail"
JSON = {"content-type": "application/json"}


class Counted:
    """An ASGI app that counts the requests it is handed (those ``HotRoutes`` did not answer)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.requests += 1
        await self.app(scope, receive, send)


def plain_app(fnflow: Fnflow) -> Any:
    """The FastAPI app that the whole app's ``HotRoutes`` layer stands in front of."""
    layer: Any = create_app(fnflow)
    while not isinstance(layer, HotRoutes):
        layer = layer.app
    return layer.app


async def opened(
    tmp_path: Path, **settings: Any
) -> AsyncIterator[tuple[Fnflow, httpx.AsyncClient, httpx.AsyncClient, Counted]]:
    """fnflow with the flow ``f``; a client of ``HotRoutes`` in front of the FastAPI app, a client of
    the FastAPI app alone, and the count of the requests ``HotRoutes`` handed over."""
    fnflow = Fnflow(Settings(db=f"sqlite:///{tmp_path}/fnflow.db", data_dir=tmp_path, **settings))
    await fnflow.open()
    try:
        await fnflow.flows.put("f", FLOW, "")
        await fnflow.queues.create("q")
        await fnflow.flows.put("waiting", WAITING, "")
        plain = plain_app(fnflow)
        handed = Counted(plain)
        base = "http://127.0.0.1"
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=HotRoutes(handed, fnflow)), base_url=base
            ) as a,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=plain), base_url=base) as b,
        ):
            yield fnflow, a, b, handed
    finally:
        await fnflow.close()


def same(a: httpx.Response, b: httpx.Response, what: str) -> None:
    assert (a.status_code, a.headers.get("content-type"), a.content) == (
        b.status_code,
        b.headers.get("content-type"),
        b.content,
    ), what
    assert a.headers.get("www-authenticate") == b.headers.get("www-authenticate"), what


async def refused_alike(
    hot: httpx.AsyncClient,
    plain: httpx.AsyncClient,
    handed: Counted,
    path: str,
    what: str,
    headers: dict[str, str],
    body: bytes,
    answered: bool,
) -> None:
    """A POST both ways gets the same error, which ``HotRoutes`` gave itself if ``answered``."""
    before = handed.requests
    a = await hot.post(path, content=body, headers=headers)
    same(a, await plain.post(path, content=body, headers=headers), what)
    assert a.status_code >= 400, (what, a.text)
    assert (handed.requests == before) == answered, what


# (what, headers, body, answered by HotRoutes itself)
BAD_STARTS: list[tuple[str, dict[str, str], bytes, bool]] = [
    ("not JSON", JSON, b"{", False),
    ("no body", JSON, b"", False),
    ("not an object", JSON, b"[1]", False),
    ("a field it does not know", JSON, b'{"nme": "x"}', False),
    ("input of the wrong type", JSON, b'{"input": 5}', False),
    ("version 0", JSON, b'{"version": 0}', False),
    ("input text that is no object", JSON, b'{"input": "[1]"}', True),
    ("JSON with a charset", {"content-type": "application/json; charset=utf-8"}, b'{"input": "[2]"}', True),
    ("a version the flow does not have", JSON, b'{"version": 9}', True),
    ("a lone surrogate", JSON, b'{"name": "\\ud800"}', True),
    ("a name that is too long", JSON, json.dumps({"name": "n" * 200}).encode(), True),
    ("no Content-Type", {}, b'{"input": "[1]"}', False),
    ("text/plain", {"content-type": "text/plain"}, b"{}", False),
    ("a body over the limit", JSON, b'{"input": {"x": "' + b"y" * 1_100_000 + b'"}}', False),
]


def test_answers_are_the_same_both_ways(tmp_path: Path) -> None:
    async def main() -> None:
        async for _, hot, plain, handed in opened(tmp_path):
            for what, headers, body, answered in BAD_STARTS:
                await refused_alike(hot, plain, handed, START, what, headers, body, answered)
            unknown = [await c.post("/api/v1/flows/nope/executions", json={}) for c in (hot, plain)]
            same(*unknown, "an unknown flow")

            # A start, then the same start the other way (the execution exists: 200, the same body).
            before = handed.requests
            for first, second, name in ((hot, plain, "one"), (plain, hot, "two")):
                created = await first.post(START, json={"name": name, "input": {"x": 1}})
                again = await second.post(START, json={"name": name, "input": {"x": 1}})
                assert (created.status_code, again.status_code) == (201, 200), (created.text, again.text)
                assert created.content == again.content
                conflict = [await c.post(START, json={"name": name, "input": {"x": 2}}) for c in (hot, plain)]
                same(*conflict, "the same name with another input")
            texts = [await c.post(START, json={"name": "three", "input": '{"x": 3}'}) for c in (hot, plain)]
            assert [r.status_code for r in texts] == [201, 200] and texts[0].content == texts[1].content
            assert handed.requests == before, "HotRoutes answers a start itself"

            queries = {"": True, "?wait=0.5": True, "?other=1": True, "?wait=2&wait=0": True}
            queries |= dict.fromkeys(("?wait=abc", "?wait=-1", "?wait=61", "?wait=", "?wait=1e1"), False)
            for query, answered in queries.items():
                for name in ("one", "nope"):
                    path = f"{START}/{name}{query}"
                    before = handed.requests
                    same(await hot.get(path), await plain.get(path), path)
                    assert (handed.requests == before) == answered, path

    asyncio.run(main())


def test_keys_are_checked_both_ways(tmp_path: Path) -> None:
    async def main() -> None:
        async for fnflow, hot, plain, _ in opened(tmp_path, auth=True):
            invoke = await fnflow.keys.create("invoke")
            report = await fnflow.keys.create("report-task")
            tokens = {
                "no key": None,
                "a malformed header": "Bearer nothing",
                "an unknown key": "Bearer k:s",
                "a key that may only report tasks": f"Bearer {report.id}:{report.secret}",
            }
            for what, token in tokens.items():
                headers = {"authorization": token, **JSON} if token else JSON
                for body in (b"{}", b"{", b'{"input": 5}'):
                    a = await hot.post(START, content=body, headers=headers)
                    b = await plain.post(START, content=body, headers=headers)
                    same(a, b, f"start with {what}, body {body!r}")
                for query in ("", "?wait=abc"):
                    path = f"{START}/x{query}"
                    same(await hot.get(path, headers=headers), await plain.get(path, headers=headers), what)
                for path in (SUCCEED, FAIL):
                    for body in (b'{"taskToken": "t", "error": "E"}', b"{"):
                        a = await hot.post(path, content=body, headers=headers)
                        b = await plain.post(path, content=body, headers=headers)
                        same(a, b, f"report with {what}, body {body!r}")
            allowed = {"authorization": f"Bearer {invoke.id}:{invoke.secret}"}
            started = await hot.post(START, json={"name": "k"}, headers=allowed)
            assert started.status_code == 201, started.text
            described = [await c.get(f"{START}/k", headers=allowed) for c in (hot, plain)]
            same(*described, "describe with an invoke key")

    asyncio.run(main())


def test_a_long_poll_answers_when_the_execution_ends(tmp_path: Path) -> None:
    async def main() -> None:
        async for _, hot, _, handed in opened(tmp_path):
            started = await hot.post(START, json={"name": "w", "input": {"x": 7}})
            assert started.status_code == 201
            done = await hot.get(f"{START}/w", params={"wait": "5"})
            assert done.status_code == 200 and done.json()["status"] == "Succeeded", done.text
            assert done.json()["output"] == {"x": 7}
            assert handed.requests == 0

    asyncio.run(main())


# (path, what, body, answered by HotRoutes itself)
BAD_REPORTS: list[tuple[str, str, bytes, bool]] = [
    (SUCCEED, "not JSON", b"{", False),
    (SUCCEED, "no token", b'{"output": {}}', False),
    (SUCCEED, "a field it does not know", b'{"taskToken": "t", "outpt": 1}', False),
    (SUCCEED, "a token of the wrong type", b'{"taskToken": 5}', False),
    (SUCCEED, "a token that is no token", b'{"taskToken": "t", "output": {}}', True),
    (SUCCEED, "output text that is no object", b'{"taskToken": "t", "output": "[1]"}', True),
    (FAIL, "no error", b'{"taskToken": "t"}', False),
    (FAIL, "a token that is no token", b'{"taskToken": "t", "error": "E"}', True),
    (FAIL, "an error that is too long", json.dumps({"taskToken": "t", "error": "e" * 129}).encode(), True),
]


async def waiting_token(fnflow: Fnflow, name: str) -> str:
    """Start an execution of ``waiting`` and return the token its step sent to queue q."""
    await fnflow.executions.start("waiting", name, {})
    [message] = await fnflow.queues.receive("q", wait=5)
    await fnflow.queues.delete_message("q", message.receipt_handle)
    token: str = json.loads(message.message.body)["token"]
    return token


def test_task_reports_are_answered_the_same_both_ways(tmp_path: Path) -> None:
    async def main() -> None:
        async for fnflow, hot, plain, handed in opened(tmp_path):
            for path, what, body, answered in BAD_REPORTS:
                await refused_alike(hot, plain, handed, path, what, JSON, body, answered)
            before = handed.requests
            for name, (first, second) in {"a": (hot, plain), "b": (plain, hot)}.items():
                token = await waiting_token(fnflow, name)
                reported = await first.post(SUCCEED, json={"taskToken": token, "output": {"n": name}})
                assert (reported.status_code, reported.json()) == (200, {}), reported.text
                again = [await c.post(SUCCEED, json={"taskToken": token}) for c in (second, first)]
                same(*again, "a task reported twice")
                assert again[0].json()["code"] == "TaskAlreadyCompleted"
                described = (await fnflow.executions.described("waiting", name, 5))[0]
                assert (described.status, json.loads(described.output or "null")) == (
                    "Succeeded",
                    {"n": name},
                )
            token = await waiting_token(fnflow, "c")
            failed = await hot.post(FAIL, json={"taskToken": token, "error": "Rejected", "cause": "no"})
            assert (failed.status_code, failed.json()) == (200, {}), failed.text
            described = (await fnflow.executions.described("waiting", "c", 5))[0]
            assert (described.status, described.error) == ("Failed", "Rejected")
            assert handed.requests == before, "HotRoutes answers a report itself"

    asyncio.run(main())
