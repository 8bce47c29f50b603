"""A function's ``requirements.txt``: read from its code package, normalized, and hashed with the Python
that will import what it installs.

The hash names the environment's folder on every machine, so two functions (or two deploys) with the
same requirements for the same Python share one. Comments, blank lines and line continuations are
left out before hashing, so only a change pip would see makes a new environment. A requirement
that points into the code (``./libs/x``) is hashed as written, not by the files it points at.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
import sysconfig
import zipfile
from pathlib import Path

FILE = "requirements.txt"
MAX_BYTES = 256 * 1024
COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's rule: a '#' at the start or after whitespace
CONTINUATION = re.compile(r"\\\r?\n")


def python_tag() -> str:
    """The interpreter environments are built for: implementation, version and platform."""
    return f"{sys.implementation.cache_tag}-{sysconfig.get_platform()}"


def python_version() -> str:
    """``3.11``: the folder name ``fun install`` and pip use under ``lib/python…/site-packages``."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def normalize(text: str) -> str:
    """The requirements as pip reads them: continuations joined, comments and blank lines left out."""
    joined = CONTINUATION.sub("", text)
    lines = (COMMENT.sub("", line).strip() for line in joined.splitlines())
    return "\n".join(line for line in lines if line)


def from_package(code: bytes) -> str:
    """The normalized ``requirements.txt`` at the top of a code package ("" if it has none)."""
    with zipfile.ZipFile(io.BytesIO(code)) as zf:
        try:
            info = zf.getinfo(FILE)
        except KeyError:
            return ""
        if info.file_size > MAX_BYTES:
            raise ValueError(f"{FILE} is larger than {MAX_BYTES} bytes")
        data = zf.read(info)
    try:
        return normalize(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ValueError(f"{FILE} is not UTF-8 text") from None


def from_folder(code_dir: Path) -> str:
    """The normalized ``requirements.txt`` of an unpacked code folder ("" if it has none)."""
    try:
        return normalize((code_dir / FILE).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        return ""


def environment_hash(requirements: str, python: str) -> str:
    """The name of the environment these requirements make for that Python."""
    return hashlib.sha256(f"{python}\n{requirements}\n".encode()).hexdigest()
