"""Tiny local packages for tests that install requirements offline: ``greeting`` 1.0 and 2.0, as
``examples/dependencies/make_wheels.py`` writes them."""

from __future__ import annotations

import runpy
from collections.abc import Callable
from pathlib import Path

MAKE_WHEELS = Path(__file__).resolve().parents[1] / "examples" / "dependencies" / "make_wheels.py"


def greeting_wheels(folder: Path) -> Path:
    """Write the wheels of ``greeting`` 1.0 and 2.0 into ``folder``; the folder."""
    make: Callable[[Path], Path] = runpy.run_path(str(MAKE_WHEELS))["greeting_wheels"]
    return make(folder)


def offline_pip(wheels: Path) -> dict[str, str]:
    """pip's settings for installing from ``wheels`` only, as a user with an offline folder sets them."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
