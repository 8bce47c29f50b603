"""The built-in request bin: record what is posted to ``/bin/{name}``, show it back."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from fnflow.errors import InvalidArgument
from fnflow.store import BinRequest, Store

NAME = re.compile(r"^[-a-zA-Z_0-9.]{1,128}$")


class BinService:
    def __init__(self, store: Store, keep: int = 100) -> None:
        self.store = store
        self.keep = keep

    async def record(
        self, name: str, method: str, path: str, query: str, headers: list[list[str]], body: bytes
    ) -> None:
        if not NAME.match(name):
            raise InvalidArgument(f"bin name {name!r} must be 1-128 characters of [-a-zA-Z0-9_.]")
        request = BinRequest(name, method, path, query, json.dumps(headers), body, datetime.now(UTC))
        await self.store.write(lambda tx: tx.add_bin_request(request, self.keep))

    async def requests(self, name: str, limit: int = 100) -> list[BinRequest]:
        """Newest first; an unknown bin is simply empty."""
        return await self.store.read(lambda tx: tx.bin_requests(name, limit))
