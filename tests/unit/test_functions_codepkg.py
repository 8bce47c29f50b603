"""Code packages: deterministic packing, and unpacking that refuses unsafe archives."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from fnflow.functions import codepkg


def make_tree(root: Path) -> Path:
    (root / "lib").mkdir(parents=True)
    (root / "index.py").write_text("def handler(event, context):\n    return event\n")
    (root / "lib" / "util.py").write_text("X = 1\n")
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    for skipped in ("__pycache__/index.cpython-311.pyc", ".git/HEAD", "lib/stale.pyc"):
        (root / skipped).parent.mkdir(exist_ok=True)
        (root / skipped).write_bytes(b"skip me")
    return root


def zip_of(*entries: tuple[zipfile.ZipInfo | str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def test_packing_is_deterministic_sorted_and_skips_caches(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "code")
    first = codepkg.pack_directory(tree)
    os.utime(tree / "index.py", (0, 0))  # timestamps do not matter
    assert codepkg.pack_directory(tree) == first
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        assert zf.namelist() == ["index.py", "lib/util.py", "run.sh"]
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_checksum_is_the_sha256_of_the_package() -> None:
    assert codepkg.checksum(b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_pack_refuses_empty_missing_and_oversized_directories(tmp_path: Path) -> None:
    (tmp_path / "empty" / "__pycache__").mkdir(parents=True)
    (tmp_path / "empty" / "__pycache__" / "x.pyc").write_bytes(b"")
    with pytest.raises(ValueError, match="no files"):
        codepkg.pack_directory(tmp_path / "empty")
    with pytest.raises(ValueError, match="not a directory"):
        codepkg.pack_directory(tmp_path / "missing")
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "blob").write_bytes(os.urandom(200_000))  # random bytes do not compress
    with pytest.raises(ValueError, match="larger than 100000 bytes"):
        codepkg.pack_directory(tmp_path / "big", max_bytes=100_000)


def test_unpack_round_trips_into_a_directory_named_by_checksum(tmp_path: Path) -> None:
    data = codepkg.pack_directory(make_tree(tmp_path / "code"))
    target = codepkg.unpack(data, tmp_path / "root")
    assert target == tmp_path / "root" / codepkg.checksum(data)
    assert (target / "lib" / "util.py").read_text() == "X = 1\n"
    assert (target / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (target / "index.py").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == [target.name]  # no temp dirs left


def test_unpack_reuses_an_existing_directory(tmp_path: Path) -> None:
    data = zip_of(("index.py", b"v = 1\n"))
    target = codepkg.unpack(data, tmp_path)
    (target / "marker").write_text("kept")
    assert codepkg.unpack(data, tmp_path) == target
    assert (target / "marker").read_text() == "kept"


def test_concurrent_unpacks_of_one_package_both_succeed(tmp_path: Path) -> None:
    data = zip_of(*((f"m{i}.py", b"x" * 10_000) for i in range(200)))
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(codepkg.unpack(data, tmp_path))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert [p.name for p in tmp_path.iterdir()] == [codepkg.checksum(data)]
    assert len(list(results[0].iterdir())) == 200


def symlink_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("/etc/evil", b"x")], "unsafe path"),
        ([("../evil.py", b"x")], "unsafe path"),
        ([("lib/../../evil.py", b"x")], "unsafe path"),
        ([("lib\\..\\evil.py", b"x")], "unsafe path"),
        ([("C:/evil.py", b"x")], "unsafe path"),
        ([(symlink_entry("link"), b"/etc/passwd")], "symbolic link"),
        ([("empty/", b"")], "no files"),
        ([], "no files"),
    ],
)
def test_unsafe_or_empty_packages_are_refused(
    tmp_path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]], message: str
) -> None:
    data = zip_of(*entries)
    with pytest.raises(ValueError, match=message):
        codepkg.check(data)
    with pytest.raises(ValueError, match=message):
        codepkg.unpack(data, tmp_path / "root")
    assert not (tmp_path / "root" / codepkg.checksum(data)).exists()
    assert not (tmp_path / "evil.py").exists()


def test_size_and_count_limits_stop_zip_bombs(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros", b"\0" * 2_000_000)  # compresses to about 2 KB
    bomb = buf.getvalue()
    assert len(bomb) < 10_000
    with pytest.raises(ValueError, match="unpacks to more than 1000000 bytes"):
        codepkg.unpack(bomb, tmp_path, max_unpacked_bytes=1_000_000)
    many = zip_of(*((f"f{i}", b"") for i in range(11)))
    with pytest.raises(ValueError, match="more than 10 entries"):
        codepkg.unpack(many, tmp_path, max_files=10)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_and_non_zip_data_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a zip file"):
        codepkg.unpack(b"definitely not a zip", tmp_path)
    data = bytearray(zip_of(("index.py", b"print('hello world')\n")))
    start = data.index(b"print")
    data[start : start + 5] = b"PRINT"  # stored, not compressed: the CRC no longer matches
    with pytest.raises(ValueError, match="corrupt"):
        codepkg.unpack(bytes(data), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_check_accepts_what_pack_produces_and_bounds_the_package_size(tmp_path: Path) -> None:
    data = codepkg.pack_directory(make_tree(tmp_path / "code"))
    codepkg.check(data)
    with pytest.raises(ValueError, match="larger than 10 bytes"):
        codepkg.check(data, max_bytes=10)
