"""What fnflow provides to every Python function: a folder of links to a few installed packages.

A worker starts without the server's site-packages (``python -S``), so a function imports its own
code, its vendored packages, its layers and its environment, the standard library, and then only
this folder: the ``fnflow`` package (for ``fnflow.Client``) with the packages its client needs
(httpx and what httpx needs), and what Function Compute's Python runtime ships when it is
installed (the ``fc`` extra: Alibaba's SDKs for FnF, MNS, FC and OSS, and ``requests``) — never
the server's own libraries (SQLAlchemy, FastAPI…).
The folder is named by a hash of what it links to and made once per installation (under
``<root>/<hash>``), complete or not at all.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

PACKAGES = ("fnflow",)  # import names provided as they are (their own requirements are not)
#: provided with what they require, when installed: the client's HTTP library, and what Function
#: Compute's Python runtime ships (the ``fc`` extra)
DISTRIBUTIONS = (
    "httpx",
    "aliyun-python-sdk-core",
    "aliyun-python-sdk-fnf",
    "aliyun-fc2",
    "aliyun-mns",
    "oss2",
    "requests",
)
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
SKIPPED = ("..", "__pycache__")


def entries(
    packages: Iterable[str] = PACKAGES, distributions: Iterable[str] = DISTRIBUTIONS
) -> dict[str, Path]:
    """What the folder links to: top-level module or package name (and dist-info folders) -> path."""
    found: dict[str, Path] = {}
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            found[name] = Path(next(iter(spec.submodule_search_locations)))
        elif spec is not None and spec.origin:
            found[Path(spec.origin).name] = Path(spec.origin)
        found.update(_top_level(_distribution(name)))  # its dist-info: importlib.metadata.version works
    for dist in _closure(distributions):
        for top, path in _top_level(dist).items():
            found.setdefault(top, path)
    return found


def folder(root: Path, links: dict[str, Path] | None = None) -> Path:
    """The folder of links under ``root``, made if it is not there yet."""
    links = entries() if links is None else links
    key = hashlib.sha256(json.dumps(sorted((k, str(v)) for k, v in links.items())).encode()).hexdigest()
    target = root / key[:16]
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
    try:
        for name, path in links.items():
            os.symlink(path, tmp / name)
        tmp.chmod(0o755)
        tmp.rename(target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not target.is_dir():
            raise
    return target


def _distribution(name: str) -> importlib.metadata.Distribution | None:
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _closure(names: Iterable[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions of ``names`` and of everything they require (extras left out)."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        key = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if key in seen or (dist := _distribution(key)) is None:
            continue
        seen[key] = dist
        for requirement in dist.requires or ():
            marker = requirement.partition(";")[2]
            match = REQUIREMENT_NAME.match(requirement)
            if match is not None and "extra" not in marker:
                todo.append(match.group(1))
    return list(seen.values())


def _top_level(dist: importlib.metadata.Distribution | None) -> dict[str, Path]:
    """The names a distribution installs at the top of site-packages, with their paths."""
    if dist is None:
        return {}
    found = {}
    for file in dist.files or ():
        top = file.parts[0]
        if top in SKIPPED or top.endswith(".pth") or top.startswith("_editable_impl"):
            continue
        path = Path(str(dist.locate_file(top)))
        if path.exists():
            found[top] = path
    return found
