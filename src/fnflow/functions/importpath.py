"""Where a Python function's packages are besides its code: the folders put on its import path.

Vendored packages live in the code folder, where Function Compute's tools leave them: ``python/``
(``pip install -t python``, FC's own layout) and ``.fun/python/lib/python3.X/site-packages``
(``fun install``). A layer is laid out as FC extracts one into ``/opt``: its packages in
``python/`` or ``python/lib/python3.X/site-packages``; a layer with neither is itself the folder.
For ``python3.X`` this Python's version is taken when it is there, else every ``python3*`` found.
"""

from __future__ import annotations

from pathlib import Path

from fnflow.functions.requirements import python_version


def vendored(code_dir: Path) -> list[Path]:
    """The vendored package folders a function's code has, in import order."""
    found = [code_dir / "python"] if (code_dir / "python").is_dir() else []
    return found + _site_packages(code_dir / ".fun" / "python")


def layer(layer_dir: Path) -> list[Path]:
    """The folders a layer adds to the import path, in import order."""
    found = [layer_dir / "python"] if (layer_dir / "python").is_dir() else []
    found += _site_packages(layer_dir / "python")
    return found or [layer_dir]


def _site_packages(prefix: Path) -> list[Path]:
    own = prefix / "lib" / f"python{python_version()}" / "site-packages"
    if own.is_dir():
        return [own]
    return sorted((p for p in prefix.glob("lib/python3*/site-packages") if p.is_dir()), reverse=True)
