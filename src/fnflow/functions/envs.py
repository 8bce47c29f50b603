"""Function environments on this machine: the packages a ``requirements.txt`` names, installed with
pip into ``<root>/<hash>/site-packages`` and put on the import path of the functions that have it.

The hash (``requirements.environment_hash``) covers the requirements and the Python, so every
function and version with the same ones shares one folder. A build runs pip in a hidden temporary
folder and renames it into place when pip succeeded, so a folder that exists is complete: a
``kill -9`` mid-install leaves only a hidden folder, which the next build of that hash clears.
Builds of one hash take a file lock (``<root>/.<hash>.lock``), so two processes on one machine never
build the same folder at once (the second finds it built), and one process builds it once however
many calls and deploys ask for it meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from fnflow.functions import _pip, folders

INFO = "fnflow-env.json"  # written last, before the rename: what was asked and what was installed
SITE = "site-packages"
Packages = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Environment:
    hash: str
    site_packages: Path
    packages: Packages  # (name, version) installed, by name
    built: bool  # False: it was there already
    seconds: float  # how long it took to have it


class Environments:
    def __init__(
        self,
        root: Path,
        *,
        python: str = sys.executable,
        timeout: float = 900.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``python`` runs pip (and is the Python the workers run); ``timeout`` bounds one install;
        ``environ`` is pip's environment (default: this process's, with pip's settings in it)."""
        self.root = root
        self._python = python
        self._timeout = timeout
        self._environ = environ
        self._building: dict[str, asyncio.Future[Environment]] = {}

    def site_packages(self, hash: str) -> Path:
        return self.root / hash / SITE

    def exists(self, hash: str) -> bool:
        return (self.root / hash / INFO).is_file()

    def packages(self, hash: str) -> Packages:
        """What the environment on this machine has installed (empty if it is not here)."""
        try:
            info = json.loads((self.root / hash / INFO).read_text())
        except (OSError, ValueError):
            return ()
        return tuple((str(n), str(v)) for n, v in info.get("packages", ()))

    async def ensure(
        self,
        hash: str,
        requirements: Path,
        *,
        tag: str,
        pins: Packages = (),
        progress: _pip.Progress | None = None,
    ) -> Environment:
        """The environment ``hash``, built from the file ``requirements`` (run from its folder, where
        relative paths in it point) unless it is here already. ``pins`` are the versions an earlier
        build of it resolved, installed as constraints so every machine gets the same ones.
        ``tag`` is the Python it is for (``requirements.python_tag``).
        ``InstallFailed`` with pip's message if it cannot be built; nothing is left behind then."""
        t0 = time.monotonic()
        if self.exists(hash):
            return self._found(hash, t0)
        building = self._building.get(hash)
        if building is None:
            building = asyncio.ensure_future(self._build(hash, requirements, tag, pins, progress))
            self._building[hash] = building
            building.add_done_callback(lambda _: self._building.pop(hash, None))
        elif progress is not None:
            progress("Waiting for the install of the same requirements that is under way")
        return await asyncio.shield(building)  # a caller that gives up does not stop it for the others

    def touch(self, hash: str) -> None:
        """Mark the environment used now (a prune leaves it for a while)."""
        folders.touch(self.root / hash)

    def prune(self, keep: Collection[str], unused_for: float) -> list[str]:
        """Remove the environments not in ``keep`` and unused for ``unused_for`` seconds, unless one is
        being built; the hashes removed."""
        return folders.prune(self.root, keep, unused_for=unused_for, busy=self._busy)

    async def _build(
        self, hash: str, requirements: Path, tag: str, pins: Packages, progress: _pip.Progress | None
    ) -> Environment:
        t0 = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        async with self._lock(hash, progress):
            if self.exists(hash):  # another process built it while we waited
                return self._found(hash, t0)
            for leftover in self.root.glob(f".{hash}.tmp-*"):  # a build that was killed
                shutil.rmtree(leftover, ignore_errors=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{hash}.tmp-", dir=self.root))
            try:
                constraints = None
                if pins:
                    constraints = tmp / "constraints.txt"
                    constraints.write_text("".join(f"{name}=={version}\n" for name, version in pins))
                await _pip.install(
                    self._python,
                    requirements,
                    tmp / SITE,
                    cwd=requirements.parent,
                    constraints=constraints,
                    environ=self._environ,
                    timeout=self._timeout,
                    progress=progress,
                )
                (tmp / SITE).mkdir(exist_ok=True)  # requirements that install nothing
                packages = tuple(installed(tmp / SITE))
                shutil.copyfile(requirements, tmp / "requirements.txt")
                info = {"hash": hash, "python": tag, "packages": packages, "built": time.time()}
                (tmp / INFO).write_text(json.dumps(info, indent=2))
                tmp.chmod(0o755)
                tmp.rename(self.root / hash)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return Environment(hash, self.site_packages(hash), packages, True, time.monotonic() - t0)

    def _found(self, hash: str, t0: float) -> Environment:
        return Environment(hash, self.site_packages(hash), self.packages(hash), False, time.monotonic() - t0)

    @contextlib.asynccontextmanager
    async def _lock(self, hash: str, progress: _pip.Progress | None) -> AsyncIterator[None]:
        fd = os.open(self.root / f".{hash}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            told = False
            while not _try_lock(fd):
                if progress is not None and not told:
                    progress("Waiting for another process installing the same requirements")
                    told = True
                await asyncio.sleep(0.1)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _busy(self, hash: str) -> bool:
        if hash in self._building:
            return True
        path = self.root / f".{hash}.lock"
        if not path.exists():
            return False
        fd = os.open(path, os.O_RDWR)
        try:
            return not _try_lock(fd)
        finally:
            os.close(fd)


def installed(site_packages: Path) -> list[tuple[str, str]]:
    """(name, version) of every distribution in a folder, by name."""
    found = {
        (d.metadata["Name"], d.version) for d in importlib.metadata.distributions(path=[str(site_packages)])
    }
    return sorted(found, key=lambda p: (p[0].lower(), p[1]))


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
