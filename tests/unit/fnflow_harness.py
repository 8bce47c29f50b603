"""fnflow in process, on SQLite in a test's folder, for tests of what the runtime does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fnflow.app import Fnflow
from fnflow.config import Settings


@asynccontextmanager
async def opened(tmp_path: Path, flows: Mapping[str, str]) -> AsyncIterator[Fnflow]:
    """fnflow open on ``tmp_path``, with ``flows`` (name: FDL text) put; closed after."""
    fnflow = Fnflow(Settings(db=f"sqlite:///{tmp_path}/fnflow.db", data_dir=tmp_path))
    await fnflow.open()
    try:
        for name, text in flows.items():
            await fnflow.flows.put(name, text, "")
        yield fnflow
    finally:
        await fnflow.close()
