"""The README's steps: two OpenFaaS functions pinned to two versions of one package (fnflow up), and a
Function Compute function with a vendored package and a layer (fnflow fn deploy --layer)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fnflow.testing import ServerProcess
from tests.e2e.cli import fnflow
from tests.packages import greeting_wheels, offline_pip

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent


def test_the_readme(tmp_path: Path) -> None:
    pip = offline_pip(greeting_wheels(tmp_path / "wheels"))
    server = ServerProcess(tmp_path / "server", env=pip).start()
    try:
        up = fnflow("up", "-f", str(HERE / "stack.yml"), url=server.url)
        assert up.returncode == 0, up.stderr
        for name, version in (("greet-v1", "1.0"), ("greet-v2", "2.0")):
            answer = httpx.post(f"{server.url}/function/{name}", content=b"you", timeout=30)
            assert answer.text == f"hello you from greeting {version}"
        report = shutil.copytree(HERE / "report", tmp_path / "report")
        vendor = [sys.executable, "-m", "pip", "install", "-q", "-t", str(report / "python"), "greeting==2.0"]
        subprocess.run(vendor, check=True, env={**pip, "PATH": "/usr/bin:/bin"})
        deploy = fnflow(
            "fn",
            "deploy",
            "report",
            "--code",
            str(report),
            "--layer",
            str(HERE / "layers/textutil"),
            url=server.url,
        )
        assert deploy.returncode == 0, deploy.stderr
        called = fnflow("fn", "invoke", "report", "--data", '{"name": "fc"}', url=server.url)
        assert json.loads(called.stdout) == {"report": "HELLO FC FROM GREETING 2.0!"}
    finally:
        server.stop()
