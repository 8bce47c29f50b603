"""What a Python function imports besides its code and the standard library, made ready on this machine.

At a deploy, the environment of the code's ``requirements.txt`` is installed (or found) before the
function is stored, and recorded with what it resolved to (``EnvironmentRecord``). When a process
first runs the function, it lays out what its import path needs: the vendored folders in its code,
its layers (unpacked from the store), and its environment — built on first use by a process that
does not have it yet, with the versions the deploy recorded as constraints.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fnflow.errors import FnflowError
from fnflow.functions import codepkg, importpath, requirements
from fnflow.functions.config import config_of
from fnflow.functions.envs import Environments
from fnflow.store import EnvironmentRecord, FunctionRecord, Store

OPTION = "dependencies"  # FunctionRecord.options: {"hash", "python"} of the function's environment
Progress = Callable[[str], None]
log = logging.getLogger(__name__)


def environment_of(record: FunctionRecord) -> dict[str, Any]:
    """The function's ``{"hash", "python"}`` as deployed (empty: it has no requirements)."""
    found = record.options.get(OPTION) or {}
    return dict(found) if isinstance(found, dict) else {}


class Dependencies:
    def __init__(
        self, store: Store, data_dir: Path, *, python: str = sys.executable, install_timeout: float = 900.0
    ) -> None:
        self.store = store
        data_dir = data_dir.resolve()  # workers run in their code folder: their import path is absolute
        self.envs = Environments(data_dir / "envs", python=python, timeout=install_timeout)
        self.layer_root = data_dir / "layers"
        self.tag = requirements.python_tag()

    async def install(self, code_dir: Path, progress: Progress | None = None) -> EnvironmentRecord | None:
        """The environment an unpacked code folder's ``requirements.txt`` makes, installed here if it is
        not yet (``InstallFailed`` with pip's message if it cannot be); None without requirements."""
        wanted = requirements.from_folder(code_dir)
        if not wanted:
            return None
        say = progress or (lambda _: None)
        hash = requirements.environment_hash(wanted, self.tag)
        known = await self.store.read(lambda tx: tx.get_environment(hash))
        if not self.envs.exists(hash):
            say(f"Installing requirements.txt into environment {hash[:12]}")
        env = await self.envs.ensure(
            hash,
            code_dir / requirements.FILE,
            tag=self.tag,
            pins=known.packages if known else (),
            progress=say,
        )
        if env.built:
            say(f"Installed {len(env.packages)} package(s) in {env.seconds:.1f} s")
        else:
            say(f"Environment {hash[:12]} is installed already ({len(env.packages)} package(s))")
        now = datetime.now(UTC)
        return EnvironmentRecord(hash, self.tag, wanted, env.packages, now, now)

    async def import_path(self, record: FunctionRecord, code_dir: Path) -> tuple[str, ...]:
        """The folders the function imports after the standard library, made ready here: vendored
        packages, layers, its environment. An FnflowError says why one cannot be had."""
        folders = importpath.vendored(code_dir)
        for layer in config_of(record).layers:
            folders += importpath.layer(await self._layer(layer.checksum))
        if environment_of(record).get("hash"):
            folders.append(await self._environment(record, code_dir))
        return tuple(str(f) for f in folders)

    async def _layer(self, checksum: str) -> Path:
        folder = self.layer_root / checksum
        if folder.is_dir():
            return folder
        code = await self.store.read(lambda tx: tx.get_layer_code(checksum))
        if code is None:
            raise FnflowError(f"its layer {checksum[:12]} is not stored any more: deploy it again")
        return await asyncio.to_thread(codepkg.unpack, code, self.layer_root)

    async def _environment(self, record: FunctionRecord, code_dir: Path) -> Path:
        # The hash is this process's: one on another Python than the deploy's builds its own.
        hash = requirements.environment_hash(requirements.from_folder(code_dir), self.tag)
        if not self.envs.exists(hash):
            log.info(
                "installing the requirements of %s/%s (environment %s)", record.service, record.name, hash
            )
            known = await self.store.read(lambda tx: tx.get_environment(hash))
            try:
                env = await self.envs.ensure(
                    hash, code_dir / requirements.FILE, tag=self.tag, pins=known.packages if known else ()
                )
            except FnflowError as e:
                raise FnflowError(f"its requirements could not be installed here: {e.message}") from None
            log.info("installed environment %s in %.1f s", hash, env.seconds)
        self.envs.touch(hash)
        return self.envs.site_packages(hash)
