"""Small helpers for talking to a test server over HTTP."""

from __future__ import annotations

from typing import Any

import httpx


def start(url: str, flow: str, input: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"input": input}
    if name:
        body["name"] = name
    response = httpx.post(f"{url}/api/v1/flows/{flow}/executions", json=body, timeout=30)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def wait(url: str, flow: str, name: str, timeout: float = 60) -> dict[str, Any]:
    """Long-poll until the execution ends (fails the test after ``timeout`` seconds)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"execution {name} did not finish in {timeout}s"
        response = httpx.get(
            f"{url}/api/v1/flows/{flow}/executions/{name}", params={"wait": min(left, 30)}, timeout=40
        )
        response.raise_for_status()
        execution: dict[str, Any] = response.json()
        if execution["status"] != "Running":
            return execution


def history(url: str, flow: str, name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = None
    while True:
        params = {"nextToken": token} if token else {}
        response = httpx.get(
            f"{url}/api/v1/flows/{flow}/executions/{name}/history", params=params, timeout=30
        )
        response.raise_for_status()
        page = response.json()
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def steps(events: list[dict[str, Any]], type_: str) -> list[str]:
    """The step names of the events of one type, in order."""
    return [e["stepName"] for e in events if e["type"] == type_]
