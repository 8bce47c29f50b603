"""What a test does when it has no PostgreSQL: skip, loudly — or fail, where PostgreSQL is required.

``.ci/run`` sets ``FNFLOW_REQUIRE_POSTGRES=1``: there a missing PostgreSQL fails the run instead
of letting it go green without the half of the suite that needs one. Elsewhere (a laptop with no
PostgreSQL and no initdb) those tests skip with a reason that starts ``POSTGRES … NOT RUN`` and a
banner at the end of the run lists them (``tests/conftest.py``).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE = "FNFLOW_REQUIRE_POSTGRES"
MARK = "POSTGRES"


def required() -> bool:
    return os.environ.get(REQUIRE, "").lower() in ("1", "true", "yes", "on")


def no_postgres(what: str, error: object) -> NoReturn:
    """Skip the test (loudly) for want of PostgreSQL; fail it when ``FNFLOW_REQUIRE_POSTGRES`` is set."""
    reason = f"{MARK} {what} NOT RUN: {error}"
    if required():
        pytest.fail(f"{reason} ({REQUIRE} is set: PostgreSQL tests must run here)", pytrace=False)
    pytest.skip(reason)
