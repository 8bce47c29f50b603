"""Pruning on a schedule: every ``period``, what no deployed function uses and nothing here has used
for ``unused_for`` seconds (environments, layers, unpacked code) is removed, in every process that
runs functions (each prunes its own data folder). ``fnflow fn gc`` does the same at once."""

from __future__ import annotations

import asyncio
import logging

from fnflow.functions.service import FunctionService

log = logging.getLogger(__name__)


async def prune_every(functions: FunctionService, period: float = 3600.0, unused_for: float = 3600.0) -> None:
    while True:
        await asyncio.sleep(period)
        try:
            pruned = await functions.prune(unused_for)
        except Exception:
            log.exception("pruning unused environments, layers and code failed; trying again later")
            continue
        if pruned.environments or pruned.layers or pruned.code:
            log.info(
                "pruned %d environment(s), %d layer(s) and %d code folder(s) no function uses",
                len(pruned.environments),
                len(pruned.layers),
                len(pruned.code),
            )
