"""End-to-end: seed 002 (OpenFaaS asynchronous functions) — a call returns 202 at once and its
result reaches the X-Callback-Url receiver with the OpenFaaS callback headers; the callback can
also be another function."""

from __future__ import annotations

import runpy
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fnflow.testing import ServerProcess, free_port

HERE = Path(__file__).parent


def fnflow(url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "fnflow", *args, "--url", url], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_async_call_with_a_callback_receiver_and_a_callback_function(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path).start()
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-u", str(HERE / "receiver.py"), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        deployed = fnflow(server.url, "up", "-f", str(HERE / "stack.yml"))
        assert "figlet" in deployed and "wordcount" in deployed
        response = httpx.post(
            f"{server.url}/async-function/figlet",
            content=b"Hi",
            headers={"X-Callback-Url": f"http://127.0.0.1:{port}/"},
        )
        assert response.status_code == 202 and response.content == b""
        call_id = response.headers["x-call-id"]
        assert receiver.stdout is not None
        lines = [receiver.stdout.readline().rstrip("\n") for _ in range(20)]
        shown = "\n".join(lines)
        assert lines[0].startswith("POST / ")
        assert f"X-Call-Id: {call_id}" in shown
        assert "X-Function-Status: 200" in shown and "X-Function-Name: figlet" in shown
        assert "X-Duration-Seconds: " in shown
        assert "#   #  #####" in shown, "the callback body is the function's answer"

        chained = httpx.post(
            f"{server.url}/async-function/figlet",
            content=b"Later is better",
            headers={"X-Callback-Url": f"{server.url}/async-function/wordcount"},
        )
        assert chained.status_code == 202
        deadline = time.monotonic() + 30
        while True:
            counted = httpx.get(f"{server.url}/api/v1/calls", params={"function": "wordcount"}).json()[
                "calls"
            ]
            if counted and counted[0]["status"] == "Succeeded":
                break
            assert time.monotonic() < deadline, counted
            time.sleep(0.1)
        banner = runpy.run_path(str(HERE / "figlet" / "handler.py"))["handle"]("Later is better")
        assert counted[0]["result"]["body"].split() == [str(len(banner.split()))], "wc -w counted the banner"
    finally:
        receiver.terminate()
        receiver.communicate()
        server.stop()
