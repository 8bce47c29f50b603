"""Runs ``pip install --target`` for a function environment, line by line, without blocking the loop.

pip runs with the server's environment variables and so reads its own configuration as it would
in a shell: ``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_NO_INDEX``, ``PIP_CONFIG_FILE`` and the
config files (``pip.conf``), proxies and certificates. ``--target`` installs every requirement
and its dependencies into the folder, ignoring what the server's environment has.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

from fnflow.errors import InstallFailed

Progress = Callable[[str], None]
TAIL_LINES = 40  # of pip's output kept for the error message


async def install(
    python: str,
    requirements: Path,
    target: Path,
    *,
    cwd: Path,
    constraints: Path | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = 900.0,
    progress: Progress | None = None,
) -> None:
    """Install ``requirements`` (and ``constraints``) into ``target``; InstallFailed with pip's output."""
    argv = [
        python,
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        "--requirement",
        str(requirements),
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "--no-warn-script-location",
    ]
    if constraints is not None:
        argv += ["--constraint", str(constraints)]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=cwd,
            env=dict(os.environ if environ is None else environ),
            start_new_session=True,  # its own group: a timeout kills the builds it started too
        )
    except OSError as e:
        raise InstallFailed(f"cannot run pip ({python} -m pip): {e}") from None
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    try:
        async with asyncio.timeout(timeout):
            await _read(proc, tail, progress)
            status = await proc.wait()
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        raise InstallFailed(_message(f"pip did not finish within {timeout:g} seconds", tail)) from None
    except BaseException:  # cancelled: leave no pip behind
        _kill(proc)
        await proc.wait()
        raise
    if status != 0:
        if any("No module named pip" in line for line in tail):
            raise InstallFailed(
                f"{python} has no pip to install requirements with: install it (python -m ensurepip)"
            )
        raise InstallFailed(_message(f"pip failed (exit status {status})", tail))


async def _read(
    proc: asyncio.subprocess.Process, tail: collections.deque[str], progress: Progress | None
) -> None:
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        text = line.decode("utf-8", "replace").rstrip()
        if text:
            tail.append(text)
            if progress is not None:
                progress(text)


def _message(what: str, tail: collections.deque[str]) -> str:
    errors = [line for line in tail if line.startswith("ERROR:")]
    shown = errors or list(tail)[-10:]
    return f"installing requirements.txt failed: {what}:\n" + "\n".join(shown)


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
