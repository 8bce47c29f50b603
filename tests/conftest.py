"""Suite-wide: the ``--long`` option (``tests/long.py``), one xdist worker per module-scoped
fixture, a test process that does not reload its CA bundle for every HTTP client, and the banner
that says which PostgreSQL tests did not run (``tests/postgres.py``)."""

from __future__ import annotations

import functools
import os
import ssl
from typing import Any

import httpx._transports.default
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


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that share a module-scoped fixture (a server, most often) run on one xdist worker, so
    the fixture is set up once: ``--dist loadgroup`` would otherwise hand a module's tests to every
    worker, and each would start its own server and deploy the same things again."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if any(fixturedefs[-1].scope in ("module", "class", "package") for fixturedefs in defs):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    # xdist hands out groups first, then single tests in this order: the slow ones (mostly waiting
    # on servers) first, so that none starts near the end and runs on while the other workers idle.
    # Tests in a group keep their order (their module's fixtures are set up once).
    items.sort(
        key=lambda item: (
            item.get_closest_marker("xdist_group") is None and not item.get_closest_marker("slow")
        )
    )


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


# Every httpx client, and so every top-level ``httpx.get(...)``, builds an SSL context that loads
# certifi's CA bundle: some 20 ms of CPU, for clients that only ever speak plain HTTP to a test
# server on loopback. The test process shares one context per setting instead (the same settings
# make the same context; servers and command lines under test are other processes, untouched).
_create_ssl_context = httpx._transports.default.create_ssl_context


@functools.cache
def _cached_ssl_context(verify: bool, trust_env: bool, cafile: str, capath: str) -> ssl.SSLContext:
    return _create_ssl_context(verify=verify, trust_env=trust_env)


def _ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
    if isinstance(verify, bool) and cert is None:
        env = (
            (os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
            if trust_env
            else ("", "")
        )
        return _cached_ssl_context(verify, trust_env, *env)
    return _create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)


httpx._transports.default.create_ssl_context = _ssl_context
