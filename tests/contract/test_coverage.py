"""Guards the suite itself: every public query of ``Tx`` and of ``Store`` is exercised here."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from fnflow.store import Store, Tx

HERE = Path(__file__).parent


def public_methods(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


def test_every_public_store_method_is_called_by_the_contract_suite() -> None:
    source = "\n".join(p.read_text() for p in HERE.glob("test_*.py") if p.name != Path(__file__).name)
    called = set(re.findall(r"\.(\w+)\(", source))
    missing = sorted((public_methods(Tx) | public_methods(Store)) - called - {"tx"})
    assert missing == [], f"add contract tests for: {missing}"
