"""Suite-wide: the ``--long`` option (``tests/long.py``) and the banner that says which PostgreSQL
tests did not run (``tests/postgres.py``)."""

from __future__ import annotations

import os

import pytest

from tests.long import ENV as LONG_ENV
from tests.long import long_tests
from tests.postgres import MARK, REQUIRE


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        help=f"run the long variants of the biggest crash and cluster tests (as {LONG_ENV}=1 does)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Test modules size themselves when imported, after this (and xdist's workers get --long too).
    if config.getoption("--long"):
        os.environ[LONG_ENV] = "1"


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"fnflow: {'long' if long_tests() else 'short'} variants of the biggest tests (--long, {LONG_ENV}=1)"
    )


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
