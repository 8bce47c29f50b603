"""How long the fuzz tests run: a bounded number of cases in ``make test``, times
``FNFLOW_FUZZ_SCALE`` for a longer run (``FNFLOW_FUZZ_SCALE=25 make test``, or on the fuzz files
alone: ``FNFLOW_FUZZ_SCALE=50 .venv/bin/pytest tests -k fuzz``)."""

from __future__ import annotations

import os

SCALE = float(os.environ.get("FNFLOW_FUZZ_SCALE", "1"))


def examples(default: int) -> int:
    return max(1, round(default * SCALE))
