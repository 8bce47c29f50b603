"""End-to-end: the versions example (FunctionFlow best practice 6) against a real server.

Version 1 and 2 of service fnf-demo are published and the alias ``online`` names version 1. An
execution that has called the function through the alias keeps that version for its later step
when the alias is switched to version 2; an execution started after the switch runs version 2.
Then ``online`` is a 90/10 canary, and 1,000 calls through the gateway split within a few percent.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from fnflow.client import Client
from fnflow.testing import ServerProcess
from tests.e2e.api import history, wait

HERE = Path(__file__).parent
CALLS = 1000


def test_an_alias_in_a_flow_a_switch_and_a_canary(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--apply", str(HERE)).start()
    try:
        url = server.url
        with Client(url, api_key="") as client:
            assert client.publish_version("fnf-demo", "v1").version_id == "1"
            client.set_alias("fnf-demo", "online", 1)
            old = client.start_execution("provision-flow", {"pause": 3}, name="started-on-v1")
            assert old.flow_version == 1
            deadline = time.monotonic() + 30
            while not any(e["type"] == "TaskSucceeded" for e in history(url, "provision-flow", old.name)):
                assert time.monotonic() < deadline, "the first step did not finish"
                time.sleep(0.1)

            client.deploy_function("provision", HERE / "functions" / "provision-v2", service="fnf-demo")
            assert client.publish_version("fnf-demo", "v2").version_id == "2"
            client.set_alias("fnf-demo", "online", 2)
            new = client.start_execution("provision-flow", {"pause": 0}, name="started-on-v2")

            done = wait(url, "provision-flow", new.name)["output"]
            assert (done["first"], done["second"]) == ("v2", "v2")
            done = wait(url, "provision-flow", old.name)["output"]
            assert (done["first"], done["second"]) == ("v1", "v1")  # kept its version across the switch
            ran = [
                e["eventDetail"]["functionVersion"]
                for e in history(url, "provision-flow", old.name)
                if e["type"] == "TaskSucceeded"
            ]
            assert ran == ["1", "1"]

            client.set_alias("fnf-demo", "online", 1, {"2": 0.1})
            began = time.monotonic()
            with httpx.Client(base_url=url, timeout=30) as http, ThreadPoolExecutor(8) as pool:

                def call(_: int) -> str:
                    answer = http.post("/function/provision.fnf-demo.online", content=b"{}")
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["version"] == f"v{answer.headers['x-fc-invocation-service-version']}"
                    return answer.headers["x-fc-invocation-service-version"]

                served = Counter(pool.map(call, range(CALLS)))
            share = served["2"] / CALLS
            took = time.monotonic() - began
            print(f"canary: {dict(served)} of {CALLS} calls in {took:.1f}s, {share:.1%} to version 2")
            assert set(served) == {"1", "2"}
            assert abs(share - 0.10) < 0.035, served
    finally:
        server.stop()
