"""Function environments, vendored folders, layers and what fnflow provides, without a server.

Environments are installed from tiny local wheels (``tests.packages``) with pip's own settings
pointing at them, as a user with an offline folder would; nothing touches the network.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import time
from pathlib import Path

import pytest

from fnflow.errors import InstallFailed
from fnflow.functions import folders, importpath, provided, requirements
from fnflow.functions.envs import INFO, Environments
from tests.packages import greeting_wheels, offline_pip

TAG = requirements.python_tag()


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return greeting_wheels(tmp_path_factory.mktemp("wheels"))


def code(folder: Path, wanted: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.txt").write_text(wanted)
    return folder / "requirements.txt"


def envs(root: Path, wheels: Path) -> Environments:
    return Environments(root, environ={**os.environ, **offline_pip(wheels)})


def test_requirements_are_hashed_as_pip_reads_them() -> None:
    text = "# pinned\ngreeting==1.0  # the old one\n\nother \\\n  >=2\nhttps://x.example/p.zip#egg=p\n"
    assert requirements.normalize(text) == "greeting==1.0\nother   >=2\nhttps://x.example/p.zip#egg=p"
    same = requirements.environment_hash("greeting==1.0\nother   >=2\nhttps://x.example/p.zip#egg=p", TAG)
    assert requirements.environment_hash(requirements.normalize(text), TAG) == same
    assert requirements.environment_hash("greeting==1.0", TAG) != requirements.environment_hash(
        "greeting==2.0", TAG
    )
    assert requirements.environment_hash("greeting==1.0", TAG) != requirements.environment_hash(
        "greeting==1.0", "cpython-312-linux-x86_64"
    )
    assert requirements.normalize("# only a comment\n\n") == ""


def test_vendored_folders_and_layers_are_found_where_fc_tools_leave_them(tmp_path: Path) -> None:
    version = requirements.python_version()
    code_dir = tmp_path / "code"
    assert importpath.vendored(code_dir) == []
    own = code_dir / ".fun/python/lib" / f"python{version}" / "site-packages"
    other = code_dir / ".fun/python/lib/python3.99/site-packages"
    for folder in (code_dir / "python", own, other):
        folder.mkdir(parents=True)
    assert importpath.vendored(code_dir) == [code_dir / "python", own], "this Python's version first"
    shutil.rmtree(own)
    assert importpath.vendored(code_dir) == [code_dir / "python", other]
    bare, laid_out = tmp_path / "bare", tmp_path / "laid-out"
    bare.mkdir()
    (laid_out / "python/lib" / f"python{version}" / "site-packages").mkdir(parents=True)
    assert importpath.layer(bare) == [bare]
    assert importpath.layer(laid_out) == [
        laid_out / "python",
        laid_out / "python/lib" / f"python{version}" / "site-packages",
    ]


def test_fnflow_provides_its_client_and_not_its_server_libraries(tmp_path: Path) -> None:
    links = provided.entries()
    assert {"fnflow", "httpx", "httpcore", "anyio", "idna", "certifi"} <= set(links)
    assert not {"sqlalchemy", "fastapi", "starlette", "pydantic", "yaml", "uvicorn"} & set(links)
    folder = provided.folder(tmp_path, links)
    assert (folder / "fnflow" / "__init__.py").is_file()
    assert provided.folder(tmp_path, links) == folder, "made once"
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_an_environment_is_built_once_then_found_and_shared(tmp_path: Path, wheels: Path) -> None:
    cache = envs(tmp_path / "envs", wheels)
    wanted = code(tmp_path / "a", "greeting==1.0\n")
    hash = requirements.environment_hash("greeting==1.0", TAG)
    lines: list[str] = []
    second: list[str] = []

    async def both() -> list[bool]:
        got = await asyncio.gather(
            cache.ensure(hash, wanted, tag=TAG, progress=lines.append),
            cache.ensure(hash, wanted, tag=TAG, progress=second.append),
        )
        return [env.built for env in got]

    assert asyncio.run(both()) == [True, True], "one build, both callers get it"
    assert sum("Successfully installed greeting-1.0" in line for line in lines) == 1
    assert second == ["Waiting for the install of the same requirements that is under way"]
    assert (cache.site_packages(hash) / "greeting" / "__init__.py").is_file()
    again = asyncio.run(cache.ensure(hash, code(tmp_path / "b", "greeting==1.0"), tag=TAG))
    assert (again.built, again.packages) == (False, (("greeting", "1.0"),))
    assert cache.packages(hash) == (("greeting", "1.0"),)
    assert sorted(p.name for p in cache.root.iterdir()) == [f".{hash}.lock", hash], "no temporary folder left"


def test_pins_recorded_by_an_earlier_build_are_installed_as_constraints(tmp_path: Path, wheels: Path) -> None:
    cache = envs(tmp_path / "envs", wheels)
    env = asyncio.run(
        cache.ensure("h", code(tmp_path / "c", "greeting\n"), tag=TAG, pins=(("greeting", "1.0"),))
    )
    assert env.packages == (("greeting", "1.0"),), "2.0 is newer, but the first build got 1.0"


def test_a_failed_install_says_what_pip_said_and_leaves_nothing(tmp_path: Path, wheels: Path) -> None:
    cache = envs(tmp_path / "envs", wheels)
    with pytest.raises(InstallFailed) as failed:
        asyncio.run(cache.ensure("h", code(tmp_path / "c", "greeting==9.0\n"), tag=TAG))
    assert "No matching distribution found for greeting==9.0" in failed.value.message
    assert "(from versions: 1.0, 2.0)" in failed.value.message
    assert not cache.exists("h")
    assert [p.name for p in cache.root.iterdir()] == [".h.lock"]


def test_an_index_that_cannot_be_reached_is_an_install_error(tmp_path: Path) -> None:
    environ = {
        **os.environ,
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "2",
    }
    for key in ("PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_EXTRA_INDEX_URL"):
        environ.pop(key, None)
    environ["PIP_CONFIG_FILE"] = os.devnull  # the machine's own pip.conf may name other indexes
    cache = Environments(tmp_path / "envs", environ=environ)
    with pytest.raises(InstallFailed, match="greeting"):
        asyncio.run(cache.ensure("h", code(tmp_path / "c", "greeting==1.0\n"), tag=TAG))


def test_a_build_killed_midway_leaves_a_hidden_folder_that_is_never_used(
    tmp_path: Path, wheels: Path
) -> None:
    cache = envs(tmp_path / "envs", wheels)
    half = cache.root / ".h.tmp-killed"
    (half / "site-packages" / "greeting").mkdir(parents=True)  # what kill -9 during pip leaves
    assert not cache.exists("h")
    env = asyncio.run(cache.ensure("h", code(tmp_path / "c", "greeting==2.0\n"), tag=TAG))
    assert env.built and not half.exists()
    assert (cache.root / "h" / INFO).is_file()


def test_a_second_process_waits_for_the_first_and_finds_its_environment(tmp_path: Path, wheels: Path) -> None:
    cache = envs(tmp_path / "envs", wheels)
    cache.root.mkdir(parents=True)
    other = os.open(cache.root / ".h.lock", os.O_RDWR | os.O_CREAT)  # the other process's build
    fcntl.flock(other, fcntl.LOCK_EX)
    lines: list[str] = []

    async def scenario() -> bool:
        waiting = asyncio.ensure_future(
            cache.ensure("h", code(tmp_path / "c", "greeting==1.0"), tag=TAG, progress=lines.append)
        )
        await asyncio.sleep(0.3)
        assert not waiting.done()
        built = cache.root / "h"  # the other process finishes: its folder appears, it unlocks
        (built / "site-packages").mkdir(parents=True)
        (built / INFO).write_text('{"packages": [["greeting", "1.0"]]}')
        os.close(other)
        return (await waiting).built

    assert asyncio.run(scenario()) is False
    assert lines == ["Waiting for another process installing the same requirements"]


def test_prune_removes_unnamed_unused_folders_only(tmp_path: Path) -> None:
    root = tmp_path / "code"
    for name in ("kept", "old", "busy", ".x.tmp-1"):
        (root / name).mkdir(parents=True)
    recent = root / "recent"
    recent.mkdir()
    now = time.time()
    for name in ("kept", "old", "busy", ".x.tmp-1"):
        os.utime(root / name, (now - 7200, now - 7200))
    removed = folders.prune(root, {"kept"}, unused_for=3600, busy=lambda key: key == "busy", now=now)
    assert removed == ["old"]
    assert sorted(p.name for p in root.iterdir()) == ["busy", "kept", "recent"], "and the leftover"
