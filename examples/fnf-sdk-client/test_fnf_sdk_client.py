"""End-to-end: seed 000's client side — start a job and poll it with Alibaba's FnF SDK — run as a
user runs ``client.py``, against a server that requires keys, reached both ways."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fnflow.testing import ServerProcess
from tests.e2e.fnf import create_key

HERE = Path(__file__).parent


def client(*args: str, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(HERE / "client.py"), *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


@pytest.mark.e2e
def test_start_and_describe_with_the_sdk(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--auth", "on", "--apply", str(HERE))
    key_id, secret = create_key(server.db, "invoke")
    server.start()
    try:
        keys = {"ALIBABA_CLOUD_ACCESS_KEY_ID": key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret}
        base = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
        proxied = {**base, **keys, "HTTP_PROXY": server.url}  # the SDK's own endpoint, through fnflow
        direct = {**base, **keys, "FNF_ENDPOINT": server.url.removeprefix("http://")}

        name = client("start", "async-work", '{"seconds": 1}', env=proxied)["executionName"]
        assert isinstance(name, str)
        running = client("describe", "async-work", name, env=direct)
        assert running["Name"] == name and running["Status"] in ("Running", "Succeeded")
        done = client("describe", "async-work", name, "30", env=proxied)
        assert done["Status"] == "Succeeded", done
        assert json.loads(str(done["Output"])) == {"outputKey": "outputValue"}
    finally:
        server.stop()
