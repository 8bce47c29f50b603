"""Tiny local packages for tests that install requirements offline: ``greeting`` 1.0 and 2.0."""

from __future__ import annotations

from pathlib import Path

from fnflow.testing import write_wheel

VERSIONS = ("1.0", "2.0")
GREETING = """VERSION = "{version}"


def hello(name):
    return f"hello {{name}} from greeting {version}"
"""


def greeting_wheels(folder: Path) -> Path:
    """Write the wheels of ``greeting`` 1.0 and 2.0 into ``folder``; the folder."""
    for version in VERSIONS:
        write_wheel(folder, "greeting", version, {"greeting/__init__.py": GREETING.format(version=version)})
    return folder


def offline_pip(wheels: Path) -> dict[str, str]:
    """pip's settings for installing from ``wheels`` only, as a user with an offline folder sets them."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
