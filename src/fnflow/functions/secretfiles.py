"""The folder of secrets each function reads: one file per secret it names, the folder's path in
``OPENFAAS_SECRETS_PATH`` (and ``secret_mount_path``, which OpenFaaS' SDKs read).

OpenFaaS mounts them at /var/openfaas/secrets/ in a container; fnflow's functions are processes,
so each process of fnflow keeps its own folder, in memory when the system has ``/dev/shm`` (so
no value is written to disk), else under its data directory. The folder and files are the
server user's only (0700, 0600), written whole (a function never reads half a value), and
removed when the process stops.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

SHARED_MEMORY = Path("/dev/shm")


class SecretFiles:
    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._root: Path | None = None

    def write(self, service: str, function: str, values: Mapping[str, bytes]) -> Path:
        """Make the function's folder hold exactly these secrets; returns its absolute path."""
        folder = self._root_dir() / service / function
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name, value in values.items():
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=".writing-")  # mode 0600
            with os.fdopen(fd, "wb") as f:
                f.write(value)
            os.replace(temporary, folder / name)
        for stale in folder.iterdir():
            if stale.name not in values:
                stale.unlink(missing_ok=True)
        return folder

    def remove(self, service: str, function: str) -> None:
        if self._root is not None:
            shutil.rmtree(self._root / service / function, ignore_errors=True)

    def close(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def _root_dir(self) -> Path:
        if self._root is None:
            parent = SHARED_MEMORY if SHARED_MEMORY.is_dir() else self._data_dir
            parent.mkdir(parents=True, exist_ok=True)
            self._root = Path(tempfile.mkdtemp(prefix="fnflow-secrets-", dir=parent)).resolve()  # 0700
        return self._root
