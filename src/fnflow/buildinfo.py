"""Which fnflow this is: the release, and the commit it was built from when that can be known.

The commit comes from the installation's record (PEP 610 ``direct_url.json``, written by
``pip install git+…``), else from the git checkout the package is imported from (an editable
install, ``make run``). A wheel or sdist installed from a file records no commit: the sha is
then ``"unknown"``, never a guess.
"""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from fnflow import __version__

UNKNOWN = "unknown"


@dataclass(frozen=True)
class BuildInfo:
    release: str
    sha: str  # the full commit id, or "unknown"
    commit_message: str = ""  # its subject line, when read from git


@functools.cache
def build_info() -> BuildInfo:
    """Read once per process (it may run git, about 10 ms)."""
    return _installed() or _checkout(Path(__file__).resolve().parent) or BuildInfo(__version__, UNKNOWN)


def _installed() -> BuildInfo | None:
    try:
        text = metadata.distribution("fnflow").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        commit = json.loads(text or "{}").get("vcs_info", {}).get("commit_id", "")
    except (ValueError, AttributeError):
        return None
    return BuildInfo(__version__, commit) if commit else None


def _checkout(where: Path) -> BuildInfo | None:
    out = _git(where, "log", "-1", "--format=%H%n%s")
    if out is None or len(out.partition("\n")[0]) < 40:
        return None
    sha, _, subject = out.partition("\n")
    dirty = _git(where, "status", "--porcelain", "--untracked-files=no", "--", ".")
    return BuildInfo(__version__, sha + ("-dirty" if dirty else ""), subject.strip())


def _git(where: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()
