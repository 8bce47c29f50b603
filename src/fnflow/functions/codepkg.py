"""Code packages: a function's code directory as one deterministic zip, and back.

The same files always pack to the same bytes (sorted entries, fixed timestamps, no caches), so the
sha256 of a package is a content address: it names the unpacked directory, decides when warm workers
must be replaced, and makes redeploying unchanged code a no-op. Packages come from users, so
unpacking refuses absolute paths, ``..``, links and archives that inflate beyond a limit.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

MAX_PACKAGE_BYTES = 50 * 1024 * 1024
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_FILES = 20_000
SKIPPED_DIRS = frozenset({"__pycache__", ".git"})
SKIPPED_SUFFIXES = (".pyc",)
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can store


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_directory(path: Path, max_bytes: int = MAX_PACKAGE_BYTES) -> bytes:
    """Zip the files under ``path``; ValueError when there are none or the zip exceeds ``max_bytes``."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root} is not a directory")
    files = sorted((p.relative_to(root).as_posix(), p) for p in _files(root))
    if not files:
        raise ValueError(f"{root} has no files to package")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, file in files:
            info = _entry(name, file.stat().st_mode)
            with file.open("rb") as src, zf.open(info, "w") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
                    if buf.tell() > max_bytes:
                        raise ValueError(f"code package is larger than {max_bytes} bytes")
    data = buf.getvalue()
    if len(data) > max_bytes:
        raise ValueError(f"code package is larger than {max_bytes} bytes")
    return data


def pack_files(files: dict[str, bytes], max_bytes: int = MAX_PACKAGE_BYTES) -> bytes:
    """Zip in-memory files (``{"index.py": b"..."}``) as ``pack_directory`` zips a directory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            zf.writestr(_entry(name, 0o644), files[name])
    data = buf.getvalue()
    if len(data) > max_bytes:
        raise ValueError(f"code package is larger than {max_bytes} bytes")
    return data


def _entry(name: str, st_mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.create_system = 3  # Unix, wherever we pack, so the bytes do not depend on the OS
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | _mode(st_mode)) << 16
    return info


def check(
    data: bytes,
    *,
    max_bytes: int = MAX_PACKAGE_BYTES,
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
    max_files: int = MAX_FILES,
) -> None:
    """ValueError unless ``data`` is a package ``unpack`` would accept (checked without extracting)."""
    if len(data) > max_bytes:
        raise ValueError(f"code package is larger than {max_bytes} bytes")
    with _open(data) as zf:
        _entries(zf, max_unpacked_bytes, max_files)


def unpack(
    data: bytes,
    root: Path,
    *,
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
    max_files: int = MAX_FILES,
) -> Path:
    """Extract into ``root/<checksum>/`` (reused if present) and return that directory.

    Extraction goes to a temporary directory beside it and is renamed into place, so a reader never
    sees a half-written directory, and two processes unpacking the same package both succeed.
    """
    target = Path(root) / checksum(data)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _open(data) as zf:
        entries = _entries(zf, max_unpacked_bytes, max_files)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for info in entries:
                _extract(zf, info, tmp)
            tmp.chmod(0o755)
            try:
                tmp.rename(target)
            except OSError:
                if not target.is_dir():
                    raise
                shutil.rmtree(tmp)  # another process unpacked the same package first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _files(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):  # does not follow links to directories
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS]
        for name in filenames:
            file = Path(dirpath, name)
            if not name.endswith(SKIPPED_SUFFIXES) and file.is_file():
                found.append(file)
    return found


def _mode(st_mode: int) -> int:
    return 0o755 if st_mode & 0o111 else 0o644


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ValueError("code package is not a zip file") from None


def _entries(zf: zipfile.ZipFile, max_unpacked_bytes: int, max_files: int) -> list[zipfile.ZipInfo]:
    entries = zf.infolist()
    if len(entries) > max_files:
        raise ValueError(f"code package has more than {max_files} entries")
    total = 0
    for info in entries:
        name = info.filename
        parts = PurePosixPath(name).parts
        if not parts or name.startswith("/") or "\\" in name or ".." in parts or PureWindowsPath(name).drive:
            raise ValueError(f"code package entry {name!r} has an unsafe path")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ValueError(f"code package entry {name!r} is a symbolic link")
        if info.flag_bits & 0x1 or info.compress_type not in COMPRESSIONS:
            raise ValueError(f"code package entry {name!r} is encrypted or uses an unknown compression")
        total += info.file_size
        if total > max_unpacked_bytes:
            raise ValueError(f"code package unpacks to more than {max_unpacked_bytes} bytes")
    if not any(not info.is_dir() for info in entries):
        raise ValueError("code package has no files")
    return entries


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, into: Path) -> None:
    dest = into.joinpath(*PurePosixPath(info.filename).parts)
    if info.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        # zipfile stops at the declared size and checks the CRC, so a lying header cannot inflate.
        with zf.open(info) as src, dest.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"code package entry {info.filename!r} is corrupt: {exc}") from None
    dest.chmod(_mode(info.external_attr >> 16))
