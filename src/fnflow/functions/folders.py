"""Content-addressed folders (unpacked code, layers, environments): one per key under a root,
complete or absent. They are made in a hidden temporary folder beside their place and renamed into
it, and removed by renaming them hidden first, so no reader ever sees one half made or half gone.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Callable, Collection
from pathlib import Path

LEFTOVER_AGE = 3600.0  # a hidden folder this old is what a killed process left


def remove(path: Path) -> None:
    """Take a folder away at once (a rename), then delete its files."""
    hidden = path.with_name(f".{path.name}.trash-{uuid.uuid4().hex[:8]}")
    try:
        path.rename(hidden)
    except FileNotFoundError:
        return
    shutil.rmtree(hidden, ignore_errors=True)


def prune(
    root: Path,
    keep: Collection[str],
    *,
    unused_for: float,
    busy: Callable[[str], bool] = lambda _: False,
    now: float | None = None,
) -> list[str]:
    """Remove the folders not in ``keep`` whose last use (mtime) is ``unused_for`` seconds old or
    more, and not ``busy``; and what killed processes left (hidden folders an hour old). Returns the
    keys removed."""
    if not root.is_dir():
        return []
    at = time.time() if now is None else now
    removed = []
    for entry in sorted(root.iterdir()):
        if not entry.is_dir():
            continue
        with contextlib.suppress(FileNotFoundError):
            age = at - entry.stat().st_mtime
            if entry.name.startswith("."):
                if age >= LEFTOVER_AGE and not busy(entry.name[1:].split(".")[0]):
                    shutil.rmtree(entry, ignore_errors=True)
            elif entry.name not in keep and age >= unused_for and not busy(entry.name):
                remove(entry)
                removed.append(entry.name)
    return removed


def touch(path: Path) -> None:
    """Mark a folder used now (its mtime), so a prune leaves it for a while."""
    with contextlib.suppress(OSError):
        path.touch(exist_ok=True)
