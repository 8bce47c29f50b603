"""Write the wheels of a tiny package, ``greeting`` 1.0 and 2.0, into a folder so pip installs them
without a network: ``python make_wheels.py wheels``, then ``PIP_NO_INDEX=1 PIP_FIND_LINKS=$PWD/wheels``."""

from __future__ import annotations

import sys
from pathlib import Path

from fnflow.testing import write_wheel

CODE = """VERSION = "{version}"


def hello(name):
    return f"hello {{name}} from greeting {version}"
"""


def greeting_wheels(folder: Path) -> Path:
    for version in ("1.0", "2.0"):
        write_wheel(folder, "greeting", version, {"greeting/__init__.py": CODE.format(version=version)})
    return folder


if __name__ == "__main__":
    print(greeting_wheels(Path(sys.argv[1] if len(sys.argv) > 1 else "wheels")).resolve())
