"""Suite-wide: the banner that says which PostgreSQL tests did not run (see ``tests/postgres.py``)."""

from __future__ import annotations

import pytest

from tests.postgres import MARK, REQUIRE


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        r
        for r in terminalreporter.stats.get("skipped", [])
        if isinstance(r.longrepr, tuple)
        and f"{MARK} " in str(r.longrepr[2])
        and "NOT RUN" in str(r.longrepr[2])
    ]
    if not skipped:
        return
    reasons = sorted({str(r.longrepr[2]) for r in skipped if isinstance(r.longrepr, tuple)})
    terminalreporter.section("POSTGRES TESTS SKIPPED", sep="!", red=True, bold=True)
    terminalreporter.line(f"{len(skipped)} tests did NOT run on PostgreSQL:", red=True, bold=True)
    for reason in reasons:
        terminalreporter.line(f"  {reason}", red=True)
    terminalreporter.line(f"Set {REQUIRE}=1 (as .ci/run does) to make this a failure.", red=True)
