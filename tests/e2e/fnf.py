"""Driving a test server with Alibaba's own FnF SDK (``aliyun-python-sdk-fnf``), as user code does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest


def create_key(db: str, scope: str) -> tuple[str, str]:
    """(AccessKeyId, AccessKeySecret) of a new key, made with ``fnflow keys create``."""
    made = subprocess.run(
        [sys.executable, "-m", "fnflow", "keys", "create", "--db", db, "--scope", scope, "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(made.stdout)
    return key["id"], key["secret"]


def temporary_key(db: str, key_id: str, *options: str) -> dict[str, str]:
    """STS-style credentials of a key, made with ``fnflow keys temporary``."""
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "fnflow",
            "keys",
            "temporary",
            key_id,
            "--db",
            db,
            "--output",
            "json",
            *options,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    credentials: dict[str, str] = json.loads(made.stdout)
    return credentials


class Fnf:
    """An ``AcsClient`` for cn-hangzhou and one way to reach fnflow: ``endpoint`` set on every
    request, or none (then the SDK goes to cn-hangzhou.fnf.aliyuncs.com, through ``HTTP_PROXY``).
    ``key`` is (AccessKeyId, AccessKeySecret), or an SDK credential such as StsTokenCredential."""

    def __init__(
        self, key: tuple[str, str] | object, endpoint: str | None = None, region: str = "cn-hangzhou"
    ) -> None:
        if isinstance(key, tuple):
            self.client = AcsClient(key[0], key[1], region)
        else:
            self.client = AcsClient(region_id=region, credential=key)
        self.endpoint = endpoint

    def prepare(self, request: type[RpcRequest], params: dict[str, Any]) -> RpcRequest:
        made = request()
        for name, value in params.items():
            getattr(made, f"set_{name}")(value)
        if self.endpoint:
            made.set_endpoint(self.endpoint)
        made.set_read_timeout(70)  # DescribeExecution may wait up to 60 s (the SDK's default is 10 s)
        return made

    def __call__(self, request: type[RpcRequest], **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(
            self.client.do_action_with_exception(self.prepare(request, params))
        )
        assert answer.pop("RequestId")
        return answer

    def fails(self, status: int, code: str, request: type[RpcRequest], **params: Any) -> str:
        """The message of the error the request must end with."""
        with pytest.raises(ServerException) as raised:
            self(request, **params)
        error = raised.value
        assert (error.get_http_status(), error.get_error_code()) == (status, code), error
        assert error.get_request_id()
        return str(error.get_error_msg())


def write_echo_function(root: Path) -> Path:
    """A directory for ``--apply`` with one function, ``fnf/echo``, which returns its event."""
    code = root / "echo"
    code.mkdir(parents=True)
    (code / "index.py").write_text("def handler(event, context):\n    return event or b'{}'\n")
    (root / "fnflow.yaml").write_text("functions:\n  - {service: fnf, name: echo, code: echo}\n")
    return root
