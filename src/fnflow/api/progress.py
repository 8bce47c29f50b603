"""Long operations answered as they go: a stream of JSON lines (``application/x-ndjson``).

Each line is ``{"event": "progress", "message"}`` while the work runs, then one last line: the
result (``done`` makes it) or ``{"event": "error", "status", "code", "message"}``. The status of
the HTTP answer is 200 once the stream has begun, so the last line is what tells the outcome. The
work runs on whether or not the client keeps reading: a deploy whose client went away still ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from fastapi.responses import StreamingResponse

from fnflow.api.errors import STATUS
from fnflow.errors import FnflowError

NDJSON = "application/x-ndjson"
T = TypeVar("T")
Line = dict[str, Any]
log = logging.getLogger("fnflow.api")
_running: set[asyncio.Task[None]] = set()  # work whose client may have gone: kept until it ends


def stream(
    work: Callable[[Callable[[str], None]], Awaitable[T]], done: Callable[[T], Line]
) -> StreamingResponse:
    """Run ``work(progress)`` and stream its progress lines, then ``done(result)`` or the error."""
    lines: asyncio.Queue[Line | None] = asyncio.Queue()

    def progress(message: str) -> None:
        lines.put_nowait({"event": "progress", "message": message})

    async def run() -> None:
        try:
            lines.put_nowait(done(await work(progress)))
        except FnflowError as e:
            lines.put_nowait({"event": "error", "status": STATUS.get(e.code, 500), **e.to_dict()})
        except Exception:
            log.exception("a streamed request failed")
            lines.put_nowait(
                {"event": "error", "status": 500, "code": "InternalError", "message": "internal error"}
            )
        finally:
            lines.put_nowait(None)

    task = asyncio.get_running_loop().create_task(run())
    _running.add(task)
    task.add_done_callback(_running.discard)

    async def body() -> AsyncIterator[bytes]:
        while (line := await lines.get()) is not None:
            yield (json.dumps(line, ensure_ascii=False) + "\n").encode()

    return StreamingResponse(body(), media_type=NDJSON, headers={"Cache-Control": "no-store"})
