"""Keeps each function's warm instances started (``minInstances``: OpenFaaS' replicas), and the
reserved instances of aliases (each function of the alias's version, ``reservedInstances``).

Every process that runs calls keeps the minimum of every function in its own pool: it reads the
functions every ``interval`` seconds (so a scale made through another process, or a worker that
died, is caught up with) and at once when this process scaled or deployed one. Only the Python
runtimes have instances to start; command and http functions start nothing ahead of a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fnflow.clock import wait_event
from fnflow.functions.config import PYTHON_RUNTIMES, config_of
from fnflow.functions.service import FunctionService
from fnflow.store import Tx

log = logging.getLogger(__name__)


class Warmer:
    def __init__(self, functions: FunctionService, interval: float = 10.0) -> None:
        self._functions = functions
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reserved: set[tuple[str, str, str]] = set()  # (service, function, version) kept warm

    def open(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="fnflow-warmer")
        self._functions.changed = self.wake

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> None:
        pool = self._functions.pool
        for record in await self._functions.list():
            if record.runtime not in PYTHON_RUNTIMES:
                continue
            wanted = config_of(record).min_instances
            if wanted == 0 and not pool.is_warm(record.service, record.name):
                continue
            try:
                await self._functions.warm(record)
            except Exception:  # one function's trouble must not keep the others cold
                log.exception("keeping %s/%s warm failed", record.service, record.name)
        await self._keep_reserved()

    async def _keep_reserved(self) -> None:
        """Start the reserved instances of aliases; release those no alias reserves any more."""

        def read(tx: Tx) -> dict[tuple[str, str, str], int]:
            wanted: dict[tuple[str, str, str], int] = {}
            for alias in tx.reserved_aliases():
                version = tx.get_service_version(alias.service, alias.version_id)
                for name in version.functions if version is not None else ():
                    key = (alias.service, name, str(alias.version_id))
                    wanted[key] = max(wanted.get(key, 0), alias.reserved_instances)
            return wanted

        wanted = await self._functions.store.read(read)
        for key, n in [*wanted.items(), *((k, 0) for k in self._reserved - wanted.keys())]:
            try:
                await self._functions.warm_version(*key, n)
            except Exception:
                log.exception("keeping the reserved instances of %s/%s version %s failed", *key)
        self._reserved = set(wanted)

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("keeping functions warm failed; trying again")
            await wait_event(self._wake, self._interval)
