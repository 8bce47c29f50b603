"""Running the ``fnflow`` command line from end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys


def fnflow(
    *args: str, url: str | None = None, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the CLI; its FNFLOW_* settings come from the arguments only, never from the caller's shell."""
    environment = {
        k: v for k, v in os.environ.items() if k not in ("FNFLOW_URL", "FNFLOW_API_KEY", "FNFLOW_DB")
    }
    if url is not None:
        environment["FNFLOW_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "fnflow", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**environment, **env},
        timeout=120,
    )


def fields(text: str) -> dict[str, str]:
    """The ``key:  value`` lines of a single object's text output."""
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}
