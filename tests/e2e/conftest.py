from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fnflow.testing import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server with its own database, stopped after the test."""
    process = ServerProcess(tmp_path)
    process.start()
    yield process
    process.stop()
