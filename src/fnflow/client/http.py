"""The client's connection: base URL, API key, timeouts, and HTTP answers mapped to exceptions."""

from __future__ import annotations

import functools
import json as json_module
import os
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx

from fnflow import __version__
from fnflow.client.errors import ConnectionError, api_error
from fnflow.client.models import Page

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8080"
#: seconds an idle connection is kept for the next request: less than the server keeps it (uvicorn:
#: 5 s), so that the client never sends on a connection the server is closing at that moment
KEEPALIVE = 2.0
#: methods sent again once when the server closed their kept-alive connection without an answer
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class Transport:
    """One httpx connection pool to one server; the client's groups of methods build on it."""

    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.url = (url or os.environ.get("FNFLOW_URL") or DEFAULT_URL).rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"the server URL {self.url!r} must start with http:// or https://")
        key = os.environ.get("FNFLOW_API_KEY") if api_key is None else api_key
        headers = {"User-Agent": f"fnflow-client/{__version__}"}
        if key:
            if ":" not in key:
                raise ValueError("an API key has the form <key id>:<secret> (as `fnflow keys create` prints)")
            headers["Authorization"] = f"Bearer {key}"
        self.timeout = timeout
        limits = httpx.Limits(keepalive_expiry=KEEPALIVE)
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, limits=limits)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _lines(
        self, path: str, params: Mapping[str, str], read_timeout: float | None = None
    ) -> Iterator[str]:
        """The lines of a streamed answer as they come (it may wait for a long time between them: no
        read timeout unless ``read_timeout`` is given, which ends the lines quietly)."""
        timeout = httpx.Timeout(self.timeout, read=read_timeout)
        try:
            with self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise api_error(response.status_code, json_or_none(response), response.text)
                yield from response.iter_lines()
        except httpx.ReadTimeout:
            if read_timeout is None:
                raise
        except httpx.TransportError as e:
            raise ConnectionError(self.url, str(e) or type(e).__name__) from e

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        extra_wait: float | None = 0.0,
    ) -> httpx.Response:
        """One request, whatever its status; ``extra_wait`` is how much longer than usual the answer
        may take (None: no limit). Only an unreachable server raises."""
        timeout = httpx.Timeout(self.timeout, read=None if extra_wait is None else self.timeout + extra_wait)
        request = self._http.request
        send = functools.partial(
            request, method, path, json=json, params=params, content=content, headers=headers, timeout=timeout
        )
        try:
            try:
                return send()
            except httpx.RemoteProtocolError:
                # The server closed a kept-alive connection as this request went out on it: a
                # request that may be repeated goes once more, on a new connection.
                if method.upper() not in IDEMPOTENT:
                    raise
                return send()
        except httpx.TimeoutException as e:
            raise ConnectionError(self.url, f"no answer in time ({type(e).__name__})") from e
        except httpx.TransportError as e:
            raise ConnectionError(self.url, str(e) or type(e).__name__) from e

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """A request whose error answers (4xx, 5xx) raise ``ApiError``; None-valued params are left out."""
        query = {k: v for k, v in params.items() if v is not None} if isinstance(params, Mapping) else params
        response = self._send(method, path, params=query, **kwargs)
        if response.status_code >= 400:
            raise api_error(response.status_code, json_or_none(response), response.text)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).json()

    def _progress(self, method: str, path: str, body: Any, progress: Callable[[str], None]) -> Any:
        """A request answered as JSON lines (``application/x-ndjson``): each progress line's message
        goes to ``progress``; the last line is returned, or raised as ``ApiError`` if it is an error."""
        timeout = httpx.Timeout(self.timeout, read=None)
        headers = {"Accept": "application/x-ndjson"}
        try:
            with self._http.stream(method, path, json=body, headers=headers, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise api_error(response.status_code, json_or_none(response), response.text)
                last: Any = None
                for text in response.iter_lines():
                    if not text.strip():
                        continue
                    line = json_module.loads(text)
                    if line.get("event") == "progress":
                        progress(str(line.get("message", "")))
                    else:
                        last = line
        except httpx.TransportError as e:
            raise ConnectionError(self.url, str(e) or type(e).__name__) from e
        if not isinstance(last, dict):
            raise ConnectionError(self.url, "the answer ended before the work did")
        if last.get("event") == "error":
            raise api_error(int(last.get("status", 500)), last, str(last.get("message", "")))
        return last


def json_or_none(response: httpx.Response) -> Any:
    """The body's JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def api_path(*segments: str) -> str:
    """``/api/v1/<segments>``, each segment quoted."""
    return "/api/v1/" + "/".join(quote(s, safe="") for s in segments)


def items(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a paged list, fetching the next page when the iteration reaches it."""
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page.items
        token = page.next_token
        if not token:
            return
