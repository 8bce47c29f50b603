"""How big the biggest crash and cluster tests are: a short variant in ``make test`` that checks
the same properties (the same kill -9 in the middle of the same kinds of work, the same assertions)
on fewer items, and the long one — the sizes these tests always had — with ``FNFLOW_LONG_TESTS=1``
or pytest's ``--long`` (``FNFLOW_LONG_TESTS=1 make test``, or on one file:
``.venv/bin/pytest --long tests/e2e/test_multinode.py``).

The soak (``FNFLOW_SOAK``) and the fuzz tests (``FNFLOW_FUZZ_SCALE``) have their own knobs, which
take a number (``tests/e2e/test_soak.py``, ``tests/fuzzing.py``)."""

from __future__ import annotations

import os

ENV = "FNFLOW_LONG_TESTS"


def long_tests() -> bool:
    """True for the long variants (``tests/conftest.py`` sets the variable for ``--long``)."""
    return os.environ.get(ENV, "").lower() in ("1", "true", "yes", "on")


def sized(short: int, long: int) -> int:
    """``long`` in a long run, else ``short``."""
    return long if long_tests() else short
