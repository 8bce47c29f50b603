"""The client's function logs: read a function's lines, or follow them as they come."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fnflow.client.http import Transport, api_path
from fnflow.functions.config import DEFAULT_SERVICE


@dataclass(frozen=True)
class LogLine:
    """One line a function wrote (``stream`` stdout or stderr) during call ``call_id`` ("" outside
    a call), or that fnflow wrote about the call (prefixed ``fnflow:``)."""

    time: datetime
    service: str
    function: str
    call_id: str
    instance: str
    stream: str
    text: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LogLine:
        return cls(
            time=datetime.fromisoformat(d["time"]),
            service=d["service"],
            function=d["function"],
            call_id=d.get("callId", ""),
            instance=d.get("instance", ""),
            stream=d.get("stream", ""),
            text=d["text"],
            raw=d,
        )


class LogMethods(Transport):
    """``/api/v1/functions/{service}/{name}/logs``."""

    def function_logs(
        self,
        name: str,
        *,
        service: str = DEFAULT_SERVICE,
        since: datetime | None = None,
        tail: int | None = None,
        call_id: str | None = None,
        instance: str | None = None,
    ) -> list[LogLine]:
        """The function's lines kept by the server, oldest first: those at or after ``since``
        (an aware datetime), of one call, and only the last ``tail``."""
        return list(self._log_lines(name, service, since, tail, call_id, instance, follow=False))

    def follow_function_logs(
        self,
        name: str,
        *,
        service: str = DEFAULT_SERVICE,
        since: datetime | None = None,
        tail: int | None = None,
        call_id: str | None = None,
        instance: str | None = None,
    ) -> Iterator[LogLine]:
        """As ``function_logs``, then each new line as the function writes it, until the server stops
        (or the caller stops iterating). With several servers, each serves every function's lines."""
        return self._log_lines(name, service, since, tail, call_id, instance, follow=True)

    def _log_lines(
        self,
        name: str,
        service: str,
        since: datetime | None,
        tail: int | None,
        call_id: str | None,
        instance: str | None,
        *,
        follow: bool,
    ) -> Iterator[LogLine]:
        params: dict[str, str] = {"follow": "true" if follow else "false"}
        if since is not None:
            params["since"] = since.isoformat()
        if tail is not None:
            params["tail"] = str(tail)
        if call_id:
            params["callId"] = call_id
        if instance:
            params["instance"] = instance
        path = api_path("functions", service, name, "logs")
        for text in self._lines(path, params):
            if text:
                yield LogLine.from_json(json.loads(text))
