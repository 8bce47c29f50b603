"""The client's gateway side: invoke functions as OpenFaaS clients do, follow asynchronous calls by
id, read request bins, and check the signature of a callback."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from fnflow import signing
from fnflow.client.errors import ApiError, api_error
from fnflow.client.http import Transport, api_path, items, json_or_none
from fnflow.client.models import BinRequest, Call, FunctionResponse, Page
from fnflow.functions.config import DEFAULT_SERVICE
from fnflow.functions.naming import namespace_of

Query = str | Mapping[str, str] | Sequence[tuple[str, str]]
POLL_FIRST, POLL_MAX = 0.05, 1.0  # wait_call polls, growing from the first interval to the last


class GatewayMethods(Transport):
    """``/function/``, ``/async-function/``, ``/api/v1/calls`` and ``/api/v1/bins``."""

    def invoke(
        self,
        name: str,
        payload: bytes = b"",
        *,
        service: str = DEFAULT_SERVICE,
        method: str = "POST",
        path: str = "",
        query: Query = "",
        headers: Mapping[str, str] | None = None,
        qualifier: str = "LATEST",
    ) -> FunctionResponse:
        """Call a function synchronously through ``/function/NAME[.SERVICE][/PATH]``.

        Whatever the function answers, 404 or 500 included, comes back as a ``FunctionResponse``.
        Only fnflow's own refusals raise ``ApiError`` (``NotFoundError`` for an unknown function,
        401/403 for keys, 413 for a large body): they are JSON ``{"code", "message"}`` without the
        ``X-Duration-Seconds`` header every answer of a function carries. No read timeout: the
        server stops the function at its own ``timeout``. ``qualifier``: a service version or alias
        (the answer's ``X-Fc-Invocation-Service-Version`` says which version ran).
        """
        response = self._send(
            method,
            function_route("function", name, service, path, qualifier),
            params=query,
            content=payload,
            headers=headers,
            extra_wait=None,
        )
        refusal = gateway_refusal(response)
        if refusal is not None:
            raise refusal
        sent = {k.lower(): v for k, v in (headers or {}).items()}
        return FunctionResponse(
            status=response.status_code,
            headers=tuple(response.headers.multi_items()),
            body=response.content,
            call_id=response.headers.get("x-call-id") or sent.get("x-call-id", ""),
        )

    def invoke_async(
        self,
        name: str,
        payload: bytes = b"",
        *,
        service: str = DEFAULT_SERVICE,
        path: str = "",
        query: Query = "",
        headers: Mapping[str, str] | None = None,
        call_id: str | None = None,
        callback_url: str | None = None,
        qualifier: str = "LATEST",
    ) -> str:
        """Queue a call (``POST /async-function/…``, 202 once it is stored) and return its call id.

        The same ``call_id`` twice runs once. ``callback_url`` receives the result (signed; see
        ``verify_callback``). Follow the call with ``get_call`` or ``wait_call``.
        """
        extra = dict(headers or {})
        if call_id is not None:
            extra["X-Call-Id"] = call_id
        if callback_url is not None:
            extra["X-Callback-Url"] = callback_url
        response = self._call(
            "POST",
            function_route("async-function", name, service, path, qualifier),
            content=payload,
            headers=extra,
            params=query,
        )
        return response.headers["x-call-id"]

    def get_call(self, call_id: str) -> Call:
        """One asynchronous call: status, attempts, timings, result or error, and its callbacks."""
        return Call.from_json(self._json("GET", api_path("calls", call_id)))

    def list_calls(
        self,
        function: str | None = None,
        service: str | None = None,
        status: str | None = None,
        dead_letter: bool | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> Page[Call]:
        """One page of calls, newest first; ``dead_letter=True`` lists the dead-letter list."""
        params = {
            "function": function,
            "service": service,
            "status": status,
            "deadLetter": dead_letter,
            "limit": limit,
            "nextToken": next_token,
        }
        return Page.from_json(self._json("GET", api_path("calls"), params=params), "calls", Call.from_json)

    def iter_calls(
        self,
        function: str | None = None,
        service: str | None = None,
        status: str | None = None,
        dead_letter: bool | None = None,
        page_size: int = 100,
    ) -> Iterator[Call]:
        """Every matching call, fetching pages as the iteration needs them."""
        return items(lambda token: self.list_calls(function, service, status, dead_letter, page_size, token))

    def wait_call(self, call_id: str, timeout: float | None = None) -> Call:
        """Poll until the call is final (Succeeded, Failed, Stopped, Expired) or ``timeout`` seconds pass.

        Returns the call as last seen: check ``finished`` and ``succeeded``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = POLL_FIRST
        while True:
            call = self.get_call(call_id)
            left = None if deadline is None else deadline - time.monotonic()
            if call.finished or (left is not None and left <= 0):
                return call
            time.sleep(pause if left is None else min(pause, left))
            pause = min(pause * 1.5, POLL_MAX)

    def stop_call(self, call_id: str) -> str:
        """Stop a call (a queued one at once, a running one by cancelling its function); its new status."""
        status: str = self._json("POST", api_path("calls", call_id, "stop"))["status"]
        return status

    def cancel_call(self, call_id: str) -> None:
        """OpenFaaS' cancel, ``DELETE /async-function/{call id}``: the same as ``stop_call``."""
        self._call("DELETE", "/async-function/" + quote(call_id, safe=""))

    def redrive_calls(self, call_ids: Iterable[str]) -> list[Call]:
        """Run dead-lettered calls again from the start (same id and request); others are left alone."""
        body = {"callIds": list(call_ids)}
        return [
            Call.from_json(c) for c in self._json("POST", api_path("calls", "redrive"), json=body)["calls"]
        ]

    def redrive_dead_letters(
        self, function: str | None = None, service: str | None = None, batch: int = 100
    ) -> list[Call]:
        """Redrive every dead letter (of one function, if given); the calls that were redriven.

        The ids are read first, then redriven in batches, so the list shrinking under the pages
        skips none.
        """
        ids = [c.call_id for c in self.iter_calls(function, service, dead_letter=True)]
        return [call for i in range(0, len(ids), batch) for call in self.redrive_calls(ids[i : i + batch])]

    def bin_requests(self, name: str, limit: int = 100) -> list[BinRequest]:
        """What the request bin ``/bin/NAME`` received, newest first (a bin keeps its last 100)."""
        response = self._json("GET", api_path("bins", name, "requests"), params={"limit": limit})
        return [BinRequest.from_json(r) for r in response["requests"]]

    def callback_key(self) -> str:
        """The key that signs callbacks (admin keys only); receivers pass it to ``verify_callback``."""
        key: str = self._json("GET", api_path("system", "callback-key"))["key"]
        return key


def verify_callback(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes, key: str, *, tolerance: float = 300
) -> bool:
    """Whether a callback came from fnflow: its ``X-Fnflow-Signature`` signs ``body`` for its
    ``X-Call-Id`` (a topic's push: its ``x-mns-message-id``) with ``key`` (``fnflow keys
    callback-key``), at most ``tolerance`` seconds ago.

    ``headers`` is a mapping or (name, value) pairs, in any case: a web framework's request
    headers, ``BaseHTTPRequestHandler.headers``, or ``BinRequest.headers``.
    """
    pairs = headers.items() if hasattr(headers, "items") else headers
    found = {str(k).lower(): str(v) for k, v in pairs}
    call_id = found.get("x-call-id") or found.get("x-mns-message-id")
    if call_id is None:
        return False
    return signing.verify(key, found.get(signing.HEADER.lower()), call_id, body, tolerance=tolerance)


def gateway_refusal(response: httpx.Response) -> ApiError | None:
    """fnflow's own error for a call through ``/function/``, or None when the function answered."""
    if response.status_code < 400 or "x-duration-seconds" in response.headers:
        return None
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    body: Any = json_or_none(response)
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        return None
    return api_error(response.status_code, body, response.text)


def function_route(prefix: str, name: str, service: str, path: str, qualifier: str = "LATEST") -> str:
    """``/prefix/name[.service][/path]``, OpenFaaS' form of a function's address;
    ``/prefix/name.service.qualifier`` names a service version or alias."""
    target = name if service == DEFAULT_SERVICE else f"{name}.{service}"
    if qualifier != "LATEST":
        target = f"{name}.{namespace_of(service)}.{qualifier}"
    sub = "/" + path.lstrip("/") if path else ""
    return f"/{prefix}/{quote(target, safe='')}{quote(sub, safe='/')}"
